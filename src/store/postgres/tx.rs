//! [`Tx`] on PostgreSQL: a pooled connection held for the work, in a transaction when it
//! writes. A connection dropped inside an open transaction is closed, never returned to the
//! pool half-way through one.

use futures_util::future::BoxFuture;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

use crate::store::tx::{Constraint, Durability, Param, Record, Tx, Value};
use crate::store::StoreError;

/// A broken unique constraint as [`StoreError::Unique`], named by PostgreSQL; any other error
/// as it is.
pub(super) fn store_error(err: tokio_postgres::Error) -> StoreError {
    if err.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        let name = err
            .as_db_error()
            .and_then(|db| db.constraint())
            .unwrap_or_default();
        return StoreError::Unique(Constraint::named(name));
    }
    StoreError::Postgres(err)
}

/// What `params` hold, as tokio-postgres binds them.
fn bind<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| -> &(dyn ToSql + Sync) {
            match p {
                Param::Int(v) => v,
                Param::Text(v) => v,
                Param::Bytes(v) => v,
                Param::Bool(v) => v,
            }
        })
        .collect()
}

fn record(row: &tokio_postgres::Row) -> Result<Record, StoreError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(i64::from(v)))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)?.map(Value::Bool)
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes)
        } else {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Record(values))
}

/// A pooled connection held for one piece of work; a transaction when begun with
/// [`PgTx::begin`], rolled back (the connection closed) if dropped before [`PgTx::commit`].
pub(super) struct PgTx {
    client: Option<deadpool_postgres::Object>,
    open: bool,
}

impl PgTx {
    pub(super) fn reading(client: deadpool_postgres::Object) -> Self {
        Self {
            client: Some(client),
            open: false,
        }
    }

    pub(super) async fn begin(
        client: deadpool_postgres::Object,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        let begin = match durability {
            Durability::Flushed => "BEGIN",
            Durability::Observation => "BEGIN; SET LOCAL synchronous_commit TO OFF",
        };
        client.batch_execute(begin).await.map_err(store_error)?;
        Ok(Self {
            client: Some(client),
            open: true,
        })
    }

    fn client(&self) -> &deadpool_postgres::Object {
        self.client.as_ref().expect("held until dropped")
    }

    pub(super) async fn commit(mut self) -> Result<(), StoreError> {
        self.client()
            .batch_execute("COMMIT")
            .await
            .map_err(store_error)?;
        self.open = false;
        Ok(())
    }

    pub(super) async fn rollback(mut self) -> Result<(), StoreError> {
        self.client()
            .batch_execute("ROLLBACK")
            .await
            .map_err(store_error)?;
        self.open = false;
        Ok(())
    }

    async fn statement(&self, sql: &str) -> Result<tokio_postgres::Statement, StoreError> {
        self.client().prepare_cached(sql).await.map_err(store_error)
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if let (true, Some(client)) = (self.open, self.client.take()) {
            // Out of the pool for good: closing it ends the transaction on the server.
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl Tx for PgTx {
    fn query<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> BoxFuture<'a, Result<Vec<Record>, StoreError>> {
        Box::pin(async move {
            let stmt = self.statement(sql).await?;
            let rows = self
                .client()
                .query(&stmt, &bind(params))
                .await
                .map_err(store_error)?;
            rows.iter().map(record).collect()
        })
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let stmt = self.statement(sql).await?;
            self.client()
                .execute(&stmt, &bind(params))
                .await
                .map_err(store_error)
        })
    }
}

//! The store interface the use cases (`crate::app`) work against: a connection of either
//! backend, in one transaction when it writes, that runs SQL written once for both.
//!
//! The SQL is PostgreSQL's dialect, kept to what SQLite reads the same way; the SQLite
//! backend only turns `$1` into `?1` and drops `FOR UPDATE` (its writer holds the whole
//! database from `BEGIN IMMEDIATE` on, which is more than a row lock). Values cross the
//! boundary as [`Param`]s and come back as [`Record`]s, so the row mapping, like the SQL, is
//! written once (`rows.rs`). Each backend keeps its connection handling and its error mapping:
//! a broken unique constraint comes back as [`StoreError::Unique`], naming the constraint.

use futures_util::future::BoxFuture;

use super::StoreError;

/// A value bound to a statement's `$n`. `None` is SQL NULL of the variant's type (PostgreSQL
/// types its parameters, so a NULL needs one too).
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    Bytes(Option<&'a [u8]>),
    Bool(Option<bool>),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(Some(v))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(v: Option<i64>) -> Self {
        Param::Int(v)
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(Some(v))
    }
}

impl From<Option<bool>> for Param<'_> {
    fn from(v: Option<bool>) -> Self {
        Param::Bool(v)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Bytes(Some(v))
    }
}

impl<'a> From<Option<&'a [u8]>> for Param<'a> {
    fn from(v: Option<&'a [u8]>) -> Self {
        Param::Bytes(v)
    }
}

/// `[Param; N]` from values that convert: `params![row.id, row.alias.as_deref(), now]`.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        [$($crate::store::tx::Param::from($value)),*]
    };
}
pub(crate) use params;

/// A column's value as a backend read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

/// One row of a result, its columns in the order selected.
#[derive(Debug, Clone, PartialEq)]
pub struct Record(pub Vec<Value>);

fn decode(column: usize, wanted: &str, found: &Value) -> StoreError {
    StoreError::Decode(format!(
        "column {column}: expected {wanted}, found {found:?}"
    ))
}

impl Record {
    fn take(&mut self, column: usize) -> Result<Value, StoreError> {
        self.0
            .get_mut(column)
            .map(|v| std::mem::replace(v, Value::Null))
            .ok_or_else(|| StoreError::Decode(format!("no column {column}")))
    }

    pub fn int(&mut self, column: usize) -> Result<i64, StoreError> {
        match self.take(column)? {
            Value::Int(v) => Ok(v),
            other => Err(decode(column, "an integer", &other)),
        }
    }

    pub fn opt_int(&mut self, column: usize) -> Result<Option<i64>, StoreError> {
        match self.take(column)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(v)),
            other => Err(decode(column, "an integer or NULL", &other)),
        }
    }

    pub fn text(&mut self, column: usize) -> Result<String, StoreError> {
        match self.take(column)? {
            Value::Text(v) => Ok(v),
            other => Err(decode(column, "text", &other)),
        }
    }

    pub fn opt_text(&mut self, column: usize) -> Result<Option<String>, StoreError> {
        match self.take(column)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v)),
            other => Err(decode(column, "text or NULL", &other)),
        }
    }

    pub fn bytes(&mut self, column: usize) -> Result<Vec<u8>, StoreError> {
        match self.take(column)? {
            Value::Bytes(v) => Ok(v),
            other => Err(decode(column, "bytes", &other)),
        }
    }

    pub fn opt_bytes(&mut self, column: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.take(column)? {
            Value::Null => Ok(None),
            Value::Bytes(v) => Ok(Some(v)),
            other => Err(decode(column, "bytes or NULL", &other)),
        }
    }

    /// A boolean: PostgreSQL's `BOOLEAN`, or SQLite's integer 0 or 1.
    pub fn bool(&mut self, column: usize) -> Result<bool, StoreError> {
        self.opt_bool(column)?
            .ok_or_else(|| StoreError::Decode(format!("column {column}: NULL, not a boolean")))
    }

    pub fn opt_bool(&mut self, column: usize) -> Result<Option<bool>, StoreError> {
        match self.take(column)? {
            Value::Null => Ok(None),
            Value::Bool(v) => Ok(Some(v)),
            Value::Int(v) => Ok(Some(v != 0)),
            other => Err(decode(column, "a boolean", &other)),
        }
    }
}

/// A connection of either backend: in one transaction, for [`super::Store::write`]; for
/// [`super::Store::read`], statements on a read connection. The row operations are the
/// inherent methods of `dyn Tx` in `rows.rs`.
pub trait Tx: Send {
    /// The rows `sql` returns.
    fn query<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> BoxFuture<'a, Result<Vec<Record>, StoreError>>;

    /// Runs `sql`; how many rows it changed.
    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
}

/// Whether a write transaction's commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk before the commit returns: every change.
    Flushed,
    /// Committed (it survives a crash of the server process) but flushed with a later commit
    /// or checkpoint, so a crash of the whole machine within that window can lose it. For
    /// observations that come in volume: connection test outcomes.
    Observation,
}

/// The same SQL in SQLite's dialect: `$n` as `?n`, and no `FOR UPDATE` (SQLite's write
/// transaction already holds the whole database).
pub fn sqlite_dialect(sql: &str) -> String {
    let sql = sql.replace(" FOR UPDATE", "");
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// The constraints whose violation a use case turns into a 409, as both backends name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    DataSourceAlias,
    PersonUsername,
    PersonEmail,
    RoleName,
    /// A key that the store generates or the caller checked (an id, a membership).
    Other,
}

impl Constraint {
    /// From the `table.column` SQLite names, or the constraint name PostgreSQL gives.
    pub fn named(name: &str) -> Self {
        match name {
            "data_source.alias" | "data_source_alias_unique" => Constraint::DataSourceAlias,
            "person.username" | "person_username_unique" => Constraint::PersonUsername,
            "person.email_key" | "person_email_unique" => Constraint::PersonEmail,
            "role.name" | "role_name_unique" => Constraint::RoleName,
            _ => Constraint::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_reads_the_same_statement_with_question_marks_and_no_row_locks() {
        assert_eq!(
            sqlite_dialect("SELECT a FROM t WHERE id = $1 OR alias = $12 LIMIT 1 FOR UPDATE"),
            "SELECT a FROM t WHERE id = ?1 OR alias = ?12 LIMIT 1"
        );
        assert_eq!(sqlite_dialect("SELECT '$' || x"), "SELECT '$' || x");
    }

    #[test]
    fn records_decode_what_each_backend_returns() {
        let mut record = Record(vec![
            Value::Int(1),
            Value::Null,
            Value::Text("a".into()),
            Value::Int(0),
            Value::Bool(true),
            Value::Bytes(vec![1]),
        ]);
        assert_eq!(record.int(0).unwrap(), 1);
        assert_eq!(record.opt_text(1).unwrap(), None);
        assert_eq!(record.text(2).unwrap(), "a");
        assert!(!record.bool(3).unwrap());
        assert!(record.bool(4).unwrap());
        assert_eq!(record.bytes(5).unwrap(), [1]);
        assert!(record.int(9).is_err());
    }

    #[test]
    fn constraints_are_named_alike_on_both_backends() {
        for (sqlite, postgres) in [
            ("data_source.alias", "data_source_alias_unique"),
            ("person.username", "person_username_unique"),
            ("person.email_key", "person_email_unique"),
            ("role.name", "role_name_unique"),
        ] {
            assert_eq!(Constraint::named(sqlite), Constraint::named(postgres));
            assert_ne!(Constraint::named(sqlite), Constraint::Other);
        }
    }
}

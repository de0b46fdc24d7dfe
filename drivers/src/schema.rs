//! What introspection reports: the schemas of a database, their tables and views, and the
//! columns of each, as typed, serializable data.
//!
//! Every backend fills a [`SchemaSnapshot`] through one `Builder` while it reads the server's
//! answer row by row, so memory grows with the result and nothing is sorted or searched more
//! than once (each row costs one hash look-up at most).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Everything introspection found, schemas in the order the server listed them (by name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaSnapshot {
    pub schemas: Vec<Schema>,
}

/// A PostgreSQL schema, a MySQL/MariaDB database, or SQLite's `main`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub name: String,
    /// Tables and views, by name.
    pub tables: Vec<Table>,
}

/// A table or a view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub kind: TableKind,
    /// In the order the table declares them.
    pub columns: Vec<Column>,
}

/// What kind of relation a [`Table`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
// Exhaustive on purpose: the server maps each variant to the contract's documented list
// (OpenAPI), and a new one must fail its build rather than fall back silently.
pub enum TableKind {
    /// A table holding rows (in PostgreSQL also a partitioned table or a partition).
    Table,
    /// A view.
    View,
    /// A PostgreSQL materialized view.
    MaterializedView,
    /// A PostgreSQL foreign table.
    ForeignTable,
}

impl TableKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::Table => "table",
            TableKind::View => "view",
            TableKind::MaterializedView => "materialized_view",
            TableKind::ForeignTable => "foreign_table",
        }
    }

    /// Views and materialized views.
    pub fn is_view(self) -> bool {
        matches!(self, TableKind::View | TableKind::MaterializedView)
    }
}

/// One column of a table or view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    pub name: String,
    /// The type as the server writes it: `integer`, `numeric(10,2)`, `varchar(40)`, or for
    /// SQLite the declared type (empty when none was declared).
    pub data_type: String,
    pub nullable: bool,
}

impl SchemaSnapshot {
    /// Tables and foreign tables (every relation that is not a view), in all schemas.
    pub fn table_count(&self) -> usize {
        self.relations().filter(|t| !t.kind.is_view()).count()
    }

    /// Views and materialized views, in all schemas.
    pub fn view_count(&self) -> usize {
        self.relations().filter(|t| t.kind.is_view()).count()
    }

    /// Columns of every table and view, in all schemas.
    pub fn column_count(&self) -> usize {
        self.relations().map(|t| t.columns.len()).sum()
    }

    /// The schema named `name`.
    pub fn schema(&self, name: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.name == name)
    }

    fn relations(&self) -> impl Iterator<Item = &Table> {
        self.schemas.iter().flat_map(|s| s.tables.iter())
    }
}

impl Schema {
    /// The table or view named `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

impl Table {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Assembles a snapshot from rows as servers return them.
///
/// Two ways in, both linear:
/// - [`Builder::row`] for one ordered result of (schema, table, column) rows where the rows of
///   a table are contiguous (PostgreSQL, SQLite): a row extends the last table when it has the
///   same name, else starts a new one.
/// - [`Builder::table`] then, once every table is in, [`Builder::column`] for servers that list
///   tables and columns in separate results (MySQL/MariaDB): columns find their table through a
///   hash index built once.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    schemas: Vec<Schema>,
    schema_index: HashMap<String, usize>,
    /// Per schema position: table name → table position. Built on the first `column`.
    table_index: Option<Vec<HashMap<String, usize>>>,
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The position of schema `name`, added (with no tables) if it is new.
    pub fn schema(&mut self, name: &str) -> usize {
        if let Some(last) = self.schemas.len().checked_sub(1) {
            if self.schemas[last].name == name {
                return last;
            }
        }
        if let Some(&i) = self.schema_index.get(name) {
            return i;
        }
        self.schemas.push(Schema {
            name: name.to_owned(),
            tables: Vec::new(),
        });
        let i = self.schemas.len() - 1;
        self.schema_index.insert(name.to_owned(), i);
        i
    }

    /// One row of an ordered listing: a schema, with perhaps a table, with perhaps a column
    /// (a table without columns comes as one row with no column, an empty schema as one row
    /// with no table).
    pub fn row(&mut self, schema: &str, table: Option<(&str, TableKind)>, column: Option<Column>) {
        let s = self.schema(schema);
        let Some((name, kind)) = table else {
            return;
        };
        let tables = &mut self.schemas[s].tables;
        let same = tables.last().is_some_and(|t| t.name == name);
        if !same {
            tables.push(Table {
                name: name.to_owned(),
                kind,
                columns: Vec::new(),
            });
        }
        if let Some(column) = column {
            tables
                .last_mut()
                .expect("pushed above")
                .columns
                .push(column);
        }
    }

    /// A table (with no columns yet), for [`Builder::column`] to fill.
    pub fn table(&mut self, schema: &str, name: &str, kind: TableKind) {
        debug_assert!(
            self.table_index.is_none(),
            "every table comes before columns"
        );
        let s = self.schema(schema);
        self.schemas[s].tables.push(Table {
            name: name.to_owned(),
            kind,
            columns: Vec::new(),
        });
    }

    /// A column of a table given to [`Builder::table`]; `false` (and nothing added) when there
    /// is no such table, as when one was created between the two listings.
    pub fn column(&mut self, schema: &str, table: &str, column: Column) -> bool {
        let schemas = &self.schemas;
        let index = self.table_index.get_or_insert_with(|| {
            schemas
                .iter()
                .map(|s| {
                    s.tables
                        .iter()
                        .enumerate()
                        .map(|(ti, t)| (t.name.clone(), ti))
                        .collect()
                })
                .collect()
        });
        let Some(&si) = self.schema_index.get(schema) else {
            return false;
        };
        match index.get(si).and_then(|tables| tables.get(table)) {
            Some(&ti) => {
                self.schemas[si].tables[ti].columns.push(column);
                true
            }
            None => false,
        }
    }

    pub fn finish(self) -> SchemaSnapshot {
        SchemaSnapshot {
            schemas: self.schemas,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, data_type: &str, nullable: bool) -> Column {
        Column {
            name: name.to_owned(),
            data_type: data_type.to_owned(),
            nullable,
        }
    }

    #[test]
    fn ordered_rows_group_into_schemas_tables_and_columns() {
        let mut b = Builder::new();
        b.row("empty", None, None);
        b.row(
            "public",
            Some(("a", TableKind::Table)),
            Some(col("id", "integer", false)),
        );
        b.row(
            "public",
            Some(("a", TableKind::Table)),
            Some(col("note", "text", true)),
        );
        b.row("public", Some(("no_columns", TableKind::Table)), None);
        b.row(
            "public",
            Some(("v", TableKind::View)),
            Some(col("id", "integer", true)),
        );
        let snapshot = b.finish();
        assert_eq!(
            snapshot
                .schemas
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            ["empty", "public"]
        );
        assert!(snapshot.schema("empty").unwrap().tables.is_empty());
        let public = snapshot.schema("public").unwrap();
        assert_eq!(public.tables.len(), 3);
        assert_eq!(
            public.table("a").unwrap().columns,
            [col("id", "integer", false), col("note", "text", true)]
        );
        assert!(public.table("no_columns").unwrap().columns.is_empty());
        assert_eq!(snapshot.table_count(), 2);
        assert_eq!(snapshot.view_count(), 1);
        assert_eq!(snapshot.column_count(), 3);
    }

    #[test]
    fn columns_find_their_table_by_name() {
        let mut b = Builder::new();
        b.schema("shop");
        b.table("shop", "orders", TableKind::Table);
        b.table("shop", "totals", TableKind::View);
        b.table("other", "orders", TableKind::Table);
        assert!(b.column("other", "orders", col("x", "int(11)", true)));
        assert!(b.column("shop", "orders", col("id", "int(11)", false)));
        assert!(b.column("shop", "totals", col("sum", "decimal(32,2)", true)));
        assert!(!b.column("shop", "gone", col("y", "int(11)", true)));
        let snapshot = b.finish();
        assert_eq!(snapshot.table_count(), 2);
        assert_eq!(snapshot.view_count(), 1);
        assert_eq!(snapshot.column_count(), 3);
        let shop = snapshot.schema("shop").unwrap();
        assert_eq!(
            shop.table("orders").unwrap().columns,
            [col("id", "int(11)", false)]
        );
    }

    #[test]
    fn serializes_with_contract_names() {
        let snapshot = SchemaSnapshot {
            schemas: vec![Schema {
                name: "public".to_owned(),
                tables: vec![Table {
                    name: "m".to_owned(),
                    kind: TableKind::MaterializedView,
                    columns: vec![col("total", "numeric(10,2)", true)],
                }],
            }],
        };
        let json = serde_json::to_string(&snapshot).unwrap();
        assert_eq!(
            json,
            r#"{"schemas":[{"name":"public","tables":[{"name":"m","kind":"materialized_view","columns":[{"name":"total","dataType":"numeric(10,2)","nullable":true}]}]}]}"#
        );
        let back: SchemaSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, snapshot);
        for kind in [
            TableKind::Table,
            TableKind::View,
            TableKind::MaterializedView,
            TableKind::ForeignTable,
        ] {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
    }
}

//! DDL rendering: the pack as `CREATE SCHEMA` / `CREATE TABLE` statements.

use std::fmt::Write;

use super::PackData;

pub(super) fn render(pack: &PackData) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- {} {}: {}",
        pack.name, pack.version, pack.description
    );
    for ext in &pack.extensions {
        let _ = writeln!(out, "CREATE EXTENSION IF NOT EXISTS {ext};");
    }
    for schema in &pack.schemas {
        let _ = writeln!(out, "\nCREATE SCHEMA IF NOT EXISTS {};", schema.name);
        for table in &schema.tables {
            let _ = writeln!(out, "\nCREATE TABLE {}.{} (", schema.name, table.name);
            let mut lines: Vec<String> = table
                .columns
                .iter()
                .map(|c| {
                    let null = if c.nullable { "" } else { " NOT NULL" };
                    format!("    {} {}{null}", c.name, c.sql_type)
                })
                .collect();
            if !table.primary_key.is_empty() {
                lines.push(format!(
                    "    PRIMARY KEY ({})",
                    table.primary_key.join(", ")
                ));
            }
            for u in &table.unique {
                lines.push(format!("    UNIQUE ({})", u.join(", ")));
            }
            let _ = writeln!(out, "{}\n);", lines.join(",\n"));
            if !table.description.is_empty() {
                let _ = writeln!(
                    out,
                    "COMMENT ON TABLE {}.{} IS '{}';",
                    schema.name,
                    table.name,
                    table.description.replace('\'', "''")
                );
            }
        }
    }
    out
}

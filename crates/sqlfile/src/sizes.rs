//! Rows and size per table: from `--rows t=N` / `--size t=SIZE`, or from the output of the
//! one-line catalog query [`query`] prints for each engine (`name<TAB>rows<TAB>bytes`).

use std::collections::HashMap;

/// What the user told about each table, raw as the planner's `rows` and `size` fields read it.
#[derive(Debug, Clone, Default)]
pub struct Sizes {
    rows: HashMap<String, String>,
    size: HashMap<String, String>,
    /// `--rows 500M` without a table: every table not named otherwise.
    every_table: (Option<String>, Option<String>),
}

impl Sizes {
    /// Rows and size of every table the file touches that is not named otherwise.
    pub fn set_every_table(&mut self, rows: Option<&str>, size: Option<&str>) {
        if rows.is_some() {
            self.every_table.0 = rows.map(str::to_string);
        }
        if size.is_some() {
            self.every_table.1 = size.map(str::to_string);
        }
    }

    pub fn set_rows(&mut self, table: &str, rows: &str) {
        self.rows.insert(table.to_string(), rows.to_string());
    }

    pub fn set_size(&mut self, table: &str, size: &str) {
        self.size.insert(table.to_string(), size.to_string());
    }

    /// Reads `table=value` as `--rows` and `--size` write it.
    pub fn pair(raw: &str) -> Result<(String, String), String> {
        match raw.rsplit_once('=') {
            Some((table, value)) if !table.trim().is_empty() && !value.trim().is_empty() => {
                Ok((table.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(format!(
                "{raw:?} is not table=value; accepts e.g. orders=500M or public.orders=120GB"
            )),
        }
    }

    /// Reads the catalog query's output: one table a line, name, rows and bytes separated by
    /// tabs (or spaces when the line has no tab); empty rows mean never analysed. Blank lines and
    /// `#` comments are skipped.
    pub fn read_catalog(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = if line.contains('\t') {
                line.split('\t').collect()
            } else {
                line.split_whitespace().collect()
            };
            let [name, rows, bytes] = fields.as_slice() else {
                return Err(format!(
                    "line {}: {line:?} is not name, rows and bytes; paste the output of `lockstep check --sizes-query --db ...`",
                    n + 1
                ));
            };
            let digits = |s: &str| s.trim().chars().all(|c| c.is_ascii_digit());
            if !digits(rows) || !digits(bytes) || bytes.trim().is_empty() {
                return Err(format!(
                    "line {}: rows and bytes must be whole numbers, found {rows:?} and {bytes:?}",
                    n + 1
                ));
            }
            if !rows.trim().is_empty() {
                self.set_rows(name, rows.trim());
            }
            self.set_size(name, &format!("{}B", bytes.trim()));
        }
        Ok(())
    }

    /// Rows of `schema.table` or `table`: an exact name first, then the one entry with the
    /// same table name in any schema.
    pub fn rows(&self, schema: Option<&str>, table: &str) -> Option<&str> {
        lookup(&self.rows, schema, table).or(self.every_table.0.as_deref())
    }

    pub fn size(&self, schema: Option<&str>, table: &str) -> Option<&str> {
        lookup(&self.size, schema, table).or(self.every_table.1.as_deref())
    }
}

fn lookup<'a>(
    map: &'a HashMap<String, String>,
    schema: Option<&str>,
    table: &str,
) -> Option<&'a str> {
    let exact = match schema {
        Some(s) => format!("{s}.{table}"),
        None => table.to_string(),
    };
    if let Some(v) = map.get(&exact) {
        return Some(v);
    }
    let mut same_table = map.iter().filter(|(name, _)| {
        let (name_schema, name_table) = match name.rsplit_once('.') {
            Some((s, t)) => (Some(s), t),
            None => (None, name.as_str()),
        };
        name_table == table && (schema.is_none() || name_schema.is_none())
    });
    match (same_table.next(), same_table.next()) {
        (Some((_, v)), None) => Some(v),
        _ => None,
    }
}

/// The one-line shell command whose output `--sizes` reads, for the engine of `mysql_family`.
pub fn query(mysql_family: bool) -> &'static str {
    if mysql_family {
        "mysql -N -B -e \"SELECT CONCAT(table_schema, '.', table_name), table_rows, data_length FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')\" > sizes.txt"
    } else {
        "psql -XAt -F \"$(printf '\\t')\" -c \"SELECT n.nspname || '.' || c.relname, CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END, pg_table_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'\" > sizes.txt"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_output_fills_rows_and_size() {
        let mut sizes = Sizes::default();
        sizes
            .read_catalog("public.orders\t500000000\t128849018880\npublic.fresh\t\t8192\n")
            .unwrap();
        assert_eq!(sizes.rows(Some("public"), "orders"), Some("500000000"));
        assert_eq!(sizes.rows(None, "orders"), Some("500000000"));
        assert_eq!(sizes.size(None, "orders"), Some("128849018880B"));
        assert_eq!(sizes.rows(None, "fresh"), None);
        assert_eq!(sizes.rows(Some("other"), "orders"), None);
    }

    #[test]
    fn a_bad_catalog_line_is_named() {
        let error = Sizes::default().read_catalog("orders 12\n").unwrap_err();
        assert!(error.starts_with("line 1:"), "{error}");
        let error = Sizes::default()
            .read_catalog("orders many 12\n")
            .unwrap_err();
        assert!(error.contains("whole numbers"), "{error}");
    }

    #[test]
    fn the_same_table_in_two_schemas_is_not_guessed() {
        let mut sizes = Sizes::default();
        sizes.set_rows("a.orders", "1");
        sizes.set_rows("b.orders", "2");
        assert_eq!(sizes.rows(None, "orders"), None);
        assert_eq!(sizes.rows(Some("b"), "orders"), Some("2"));
    }
}

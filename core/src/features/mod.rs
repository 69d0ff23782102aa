//! Feature extraction: the structural features of a query, read from its parsed AST (not
//! from a corpus's own metadata), and the [`FeatureTable`] synthesizers learn.
//!
//! | column | definition |
//! |---|---|
//! | cte_count | CTEs in all WITH clauses |
//! | join_count | JOIN clauses, plus extra relations in comma-separated FROM lists |
//! | subquery_count | subqueries outside CTE bodies (WHERE, SELECT list, FROM) |
//! | spatial_function_count | calls of functions in the pack's spatial catalogue |
//! | table_count | distinct base tables (CTE names and aliases are not tables) |
//! | schema_count | distinct schemas of those tables (unqualified unknown tables: `public`) |
//! | complexity_score | `min(10, 2·cte + 2·subquery + join + ⌈spatial/2⌉ + (schemas − 1) + [aggregate or window])` |
//! | sql_type | first rule that applies: RASTER_VECTOR (raster function or raster column), SPATIAL_CLUSTERING (clustering function), NESTED_QUERY (CTE or subquery), SPATIAL_JOIN (a spatial predicate over two relations), MULTI_JOIN (≥ 3 tables or ≥ 2 joins), AGGREGATION (GROUP BY or aggregate), SPATIAL_PROCESSING (processing or validation function), SPATIAL_MEASUREMENT (measurement or predicate function), SIMPLE_SELECT |
//! | difficulty_level | complexity 0–2 EASY, 3–4 MEDIUM, 5–7 HARD, 8–10 EXPERT |
//! | schema_complexity | ≤ 1 table SINGLE_TABLE, 1 schema SINGLE_SCHEMA, else MULTI_SCHEMA |
//! | usage_frequency | the record's `usage_frequency` (or `sql_frequency`); else the rarest catalogue frequency among the functions called; HIGH without spatial functions |
//! | question_tone | the record's `question_tone`; else from the question: `?` or a wh-word INTERROGATIVE, analyse/compare/calculate… ANALYTICAL, "I need…"/"Show me…" DESCRIPTIVE, else DIRECT |
//! | primary_function_category | the category with most catalogue calls (ties: raster, clustering, processing, measurements, predicates, transforms, constructors, validation, accessors); `none` without calls |
//! | limit_strategy | LIMIT: TOP_N; ORDER BY without LIMIT: ORDERED_ONLY; else FULL_RESULTS |

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::pack::{Frequency, FunctionCategory, SchemaPack};
use crate::sql::analyze::{analyze_statement, Facts};
use crate::sql::{parse, ParseFailure};

/// One cell of a structure row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FeatureValue {
    /// A count or score.
    Int(i64),
    /// A category label.
    Cat(String),
}

impl fmt::Display for FeatureValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeatureValue::Int(i) => write!(f, "{i}"),
            FeatureValue::Cat(s) => f.write_str(s),
        }
    }
}

/// One row of a [`FeatureTable`]: values in the order of [`FEATURE_COLUMNS`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StructureRow(pub Vec<FeatureValue>);

/// Kind and domain of a feature column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnKind {
    /// An integer count or score within [min, max].
    Numerical {
        /// Lowest value (declared domain widened by observations).
        min: i64,
        /// Highest value.
        max: i64,
    },
    /// A label from a closed vocabulary.
    Categorical {
        /// Categories: the declared vocabulary, then any others observed.
        categories: Vec<String>,
    },
}

/// A feature column's name and kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnMeta {
    /// Column name.
    pub name: String,
    /// Kind and domain.
    pub kind: ColumnKind,
}

/// Declared domains of the feature columns, in table order.
pub const FEATURE_COLUMNS: &[(&str, Domain)] = &[
    ("cte_count", Domain::Int(0, 5)),
    ("join_count", Domain::Int(0, 10)),
    ("subquery_count", Domain::Int(0, 5)),
    ("spatial_function_count", Domain::Int(0, 15)),
    ("table_count", Domain::Int(1, 8)),
    ("schema_count", Domain::Int(1, 3)),
    ("complexity_score", Domain::Int(0, 10)),
    ("sql_type", Domain::Cat(SQL_TYPES)),
    (
        "difficulty_level",
        Domain::Cat(&["EASY", "MEDIUM", "HARD", "EXPERT"]),
    ),
    (
        "schema_complexity",
        Domain::Cat(&["SINGLE_TABLE", "SINGLE_SCHEMA", "MULTI_SCHEMA"]),
    ),
    (
        "usage_frequency",
        Domain::Cat(&["CRITICAL", "VERY_HIGH", "HIGH", "MEDIUM", "LOW"]),
    ),
    (
        "question_tone",
        Domain::Cat(&["DIRECT", "INTERROGATIVE", "DESCRIPTIVE", "ANALYTICAL"]),
    ),
    (
        "primary_function_category",
        Domain::Cat(&[
            "predicates",
            "measurements",
            "processing",
            "accessors",
            "constructors",
            "transforms",
            "validation",
            "clustering",
            "raster",
            "none",
        ]),
    ),
    (
        "limit_strategy",
        Domain::Cat(&["FULL_RESULTS", "TOP_N", "ORDERED_ONLY"]),
    ),
];

/// The sql_type vocabulary.
pub const SQL_TYPES: &[&str] = &[
    "SIMPLE_SELECT",
    "SPATIAL_JOIN",
    "AGGREGATION",
    "NESTED_QUERY",
    "SPATIAL_MEASUREMENT",
    "SPATIAL_PROCESSING",
    "SPATIAL_CLUSTERING",
    "RASTER_VECTOR",
    "MULTI_JOIN",
];

/// A declared column domain.
#[derive(Debug, Clone, Copy)]
pub enum Domain {
    /// Integers in [min, max].
    Int(i64, i64),
    /// A vocabulary.
    Cat(&'static [&'static str]),
}

/// The features of one query, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryFeatures {
    /// CTEs.
    pub cte_count: i64,
    /// Joins.
    pub join_count: i64,
    /// Subqueries outside CTE bodies.
    pub subquery_count: i64,
    /// Catalogue function calls.
    pub spatial_function_count: i64,
    /// Distinct base tables.
    pub table_count: i64,
    /// Distinct schemas.
    pub schema_count: i64,
    /// Complexity score.
    pub complexity_score: i64,
    /// Query type.
    pub sql_type: String,
    /// Difficulty.
    pub difficulty_level: String,
    /// Schema complexity.
    pub schema_complexity: String,
    /// Usage frequency.
    pub usage_frequency: String,
    /// Question tone.
    pub question_tone: String,
    /// Primary function category.
    pub primary_function_category: String,
    /// Limit strategy.
    pub limit_strategy: String,
    /// Catalogue functions called (canonical names, in order of first call).
    #[serde(skip)]
    pub spatial_functions: Vec<String>,
    /// Base tables as `schema.table`.
    #[serde(skip)]
    pub tables: Vec<String>,
}

/// Labels SQL cannot reveal, taken from a record when present.
#[derive(Debug, Clone, Default)]
pub struct RecordLabels<'a> {
    /// The question text.
    pub question: Option<&'a str>,
    /// The record's question tone.
    pub question_tone: Option<&'a str>,
    /// The record's usage frequency.
    pub usage_frequency: Option<&'a str>,
}

impl QueryFeatures {
    /// Features from the analyser's facts plus the record's labels.
    pub fn from_facts(
        facts: &Facts,
        labels: &RecordLabels<'_>,
        pack: &SchemaPack,
    ) -> QueryFeatures {
        let cte = i64::from(facts.cte_count);
        let join = i64::from(facts.join_count);
        let sub = i64::from(facts.subquery_count);
        let spatial = facts.spatial_calls.len() as i64;
        let tables = facts.base_tables.len() as i64;
        let schemas = facts
            .base_tables
            .iter()
            .map(|(s, _)| s)
            .collect::<std::collections::BTreeSet<_>>()
            .len() as i64;
        let complexity = (2 * cte
            + 2 * sub
            + join
            + (spatial + 1) / 2
            + (schemas - 1).max(0)
            + i64::from(facts.has_aggregate || facts.has_window))
        .min(10);
        let has =
            |cats: &[FunctionCategory]| facts.spatial_calls.iter().any(|(_, c)| cats.contains(c));
        let sql_type = if has(&[FunctionCategory::Raster]) || facts.raster_ref {
            "RASTER_VECTOR"
        } else if has(&[FunctionCategory::Clustering]) {
            "SPATIAL_CLUSTERING"
        } else if cte > 0 || sub > 0 {
            "NESTED_QUERY"
        } else if facts.spatial_join {
            "SPATIAL_JOIN"
        } else if tables >= 3 || join >= 2 {
            "MULTI_JOIN"
        } else if facts.has_group_by || facts.has_aggregate {
            "AGGREGATION"
        } else if has(&[FunctionCategory::Processing, FunctionCategory::Validation]) {
            "SPATIAL_PROCESSING"
        } else if has(&[FunctionCategory::Measurements, FunctionCategory::Predicates]) {
            "SPATIAL_MEASUREMENT"
        } else {
            "SIMPLE_SELECT"
        };
        let difficulty = match complexity {
            0..=2 => "EASY",
            3..=4 => "MEDIUM",
            5..=7 => "HARD",
            _ => "EXPERT",
        };
        let schema_complexity = if tables <= 1 {
            "SINGLE_TABLE"
        } else if schemas <= 1 {
            "SINGLE_SCHEMA"
        } else {
            "MULTI_SCHEMA"
        };
        let usage_frequency = match labels.usage_frequency {
            Some(f) if !f.is_empty() => f.to_string(),
            _ => facts
                .spatial_calls
                .iter()
                .filter_map(|(n, _)| pack.function(n).map(|(s, _)| s.frequency))
                .min()
                .unwrap_or(Frequency::High)
                .as_str()
                .to_string(),
        };
        let question_tone = match labels.question_tone {
            Some(t) if !t.is_empty() => t.to_string(),
            _ => infer_tone(labels.question.unwrap_or("")).to_string(),
        };
        let mut counts: BTreeMap<FunctionCategory, usize> = BTreeMap::new();
        for (_, c) in &facts.spatial_calls {
            *counts.entry(*c).or_default() += 1;
        }
        let primary = FunctionCategory::ALL
            .iter()
            .filter_map(|c| counts.get(c).map(|n| (*n, *c)))
            .fold(
                None::<(usize, FunctionCategory)>,
                |best, (n, c)| match best {
                    Some((bn, _)) if bn >= n => best,
                    _ => Some((n, c)),
                },
            )
            .map(|(_, c)| c.as_str())
            .unwrap_or("none");
        let limit_strategy = if facts.has_limit {
            "TOP_N"
        } else if facts.has_order_by {
            "ORDERED_ONLY"
        } else {
            "FULL_RESULTS"
        };
        let mut spatial_functions: Vec<String> = Vec::new();
        for (n, _) in &facts.spatial_calls {
            if !spatial_functions.contains(n) {
                spatial_functions.push(n.clone());
            }
        }
        QueryFeatures {
            cte_count: cte,
            join_count: join,
            subquery_count: sub,
            spatial_function_count: spatial,
            table_count: tables,
            schema_count: schemas,
            complexity_score: complexity,
            sql_type: sql_type.into(),
            difficulty_level: difficulty.into(),
            schema_complexity: schema_complexity.into(),
            usage_frequency,
            question_tone,
            primary_function_category: primary.into(),
            limit_strategy: limit_strategy.into(),
            spatial_functions,
            tables: facts
                .base_tables
                .iter()
                .map(|(s, t)| format!("{s}.{t}"))
                .collect(),
        }
    }

    /// The features as a structure row in [`FEATURE_COLUMNS`] order.
    pub fn to_row(&self) -> StructureRow {
        use FeatureValue::{Cat, Int};
        StructureRow(vec![
            Int(self.cte_count),
            Int(self.join_count),
            Int(self.subquery_count),
            Int(self.spatial_function_count),
            Int(self.table_count),
            Int(self.schema_count),
            Int(self.complexity_score),
            Cat(self.sql_type.clone()),
            Cat(self.difficulty_level.clone()),
            Cat(self.schema_complexity.clone()),
            Cat(self.usage_frequency.clone()),
            Cat(self.question_tone.clone()),
            Cat(self.primary_function_category.clone()),
            Cat(self.limit_strategy.clone()),
        ])
    }
}

fn infer_tone(question: &str) -> &'static str {
    let q = question.trim();
    let lower = q.to_lowercase();
    let first = lower.split_whitespace().next().unwrap_or("");
    if q.ends_with('?')
        || matches!(
            first,
            "what" | "which" | "how" | "where" | "who" | "when" | "is" | "are" | "do" | "does"
        )
    {
        "INTERROGATIVE"
    } else if matches!(
        first,
        "analyse"
            | "analyze"
            | "compare"
            | "calculate"
            | "compute"
            | "evaluate"
            | "assess"
            | "rank"
            | "determine"
            | "estimate"
    ) {
        "ANALYTICAL"
    } else if lower.starts_with("i need")
        || lower.starts_with("i want")
        || lower.starts_with("show me")
        || first == "provide"
    {
        "DESCRIPTIVE"
    } else {
        "DIRECT"
    }
}

/// Extracts features from SQL for one pack.
#[derive(Debug, Clone, Copy)]
pub struct FeatureExtractor<'p> {
    pack: &'p SchemaPack,
}

impl<'p> FeatureExtractor<'p> {
    /// An extractor for a pack (the pack gives the spatial catalogue and table schemas).
    pub fn new(pack: &'p SchemaPack) -> FeatureExtractor<'p> {
        FeatureExtractor { pack }
    }

    /// Features of one query. Fails when the SQL does not parse to exactly one statement.
    pub fn extract(
        &self,
        sql: &str,
        labels: &RecordLabels<'_>,
    ) -> Result<QueryFeatures, ParseFailure> {
        let statements = parse(sql)?;
        let [statement] = statements.as_slice() else {
            return Err(ParseFailure {
                message: format!("expected exactly one statement, found {}", statements.len()),
                location: None,
            });
        };
        let analysis = analyze_statement(self.pack, statement);
        Ok(QueryFeatures::from_facts(
            &analysis.facts,
            labels,
            self.pack,
        ))
    }
}

/// Typed feature rows with column metadata: what synthesizers learn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureTable {
    /// Columns in order.
    pub columns: Vec<ColumnMeta>,
    /// Rows, each in column order.
    pub rows: Vec<StructureRow>,
}

/// Whether a structure row is one the feature definitions allow: the derived columns
/// (complexity score, difficulty, schema complexity, query type, primary function
/// category) agree with the counts the way the extractor computes them. A synthesizer
/// learns these relations only approximately; the pipeline rejects the rows that break
/// them before turning any into SQL (SDV's reject-sampling treatment of constraints).
/// Returns the name of the first rule a row breaks.
pub fn structure_violation(row: &StructureRow) -> Option<&'static str> {
    use FeatureValue::{Cat, Int};
    let v = &row.0;
    if v.len() != FEATURE_COLUMNS.len() {
        return Some("row_shape");
    }
    let int = |i: usize| match &v[i] {
        Int(x) => Some(*x),
        Cat(_) => None,
    };
    let cat = |i: usize| match &v[i] {
        Cat(x) => Some(x.as_str()),
        Int(_) => None,
    };
    let (
        Some(c),
        Some(j),
        Some(s),
        Some(f),
        Some(t),
        Some(k),
        Some(cx),
        Some(ty),
        Some(diff),
        Some(sc),
        Some(prim),
    ) = (
        int(0),
        int(1),
        int(2),
        int(3),
        int(4),
        int(5),
        int(6),
        cat(7),
        cat(8),
        cat(9),
        cat(12),
    )
    else {
        return Some("value_kinds");
    };
    if k > t || t < 1 || k < 1 {
        return Some("schema_count_vs_table_count");
    }
    if t > j + 1 + s + c {
        return Some("tables_vs_relations");
    }
    let want_sc = if t <= 1 {
        "SINGLE_TABLE"
    } else if k <= 1 {
        "SINGLE_SCHEMA"
    } else {
        "MULTI_SCHEMA"
    };
    if sc != want_sc {
        return Some("schema_complexity");
    }
    let want_diff = match cx {
        0..=2 => "EASY",
        3..=4 => "MEDIUM",
        5..=7 => "HARD",
        _ => "EXPERT",
    };
    if diff != want_diff {
        return Some("difficulty_vs_complexity");
    }
    let base = 2 * c + 2 * s + j + (f + 1) / 2 + (k - 1);
    let agg = match ty {
        "AGGREGATION" | "SPATIAL_CLUSTERING" => Some(true),
        "SIMPLE_SELECT" | "SPATIAL_PROCESSING" | "SPATIAL_MEASUREMENT" => Some(false),
        _ => None,
    };
    let ok = |a: bool| cx == (base + i64::from(a)).min(10);
    let cx_ok = match agg {
        Some(a) => ok(a),
        None => ok(false) || ok(true),
    };
    if !cx_ok {
        return Some("complexity_formula");
    }
    if (prim == "none") != (f == 0) {
        return Some("primary_category_vs_count");
    }
    let nested = c + s > 0;
    match ty {
        "NESTED_QUERY" if !nested => return Some("nested_without_subquery"),
        "SPATIAL_JOIN"
        | "MULTI_JOIN"
        | "AGGREGATION"
        | "SPATIAL_PROCESSING"
        | "SPATIAL_MEASUREMENT"
        | "SIMPLE_SELECT"
            if nested =>
        {
            return Some("subquery_in_flat_type")
        }
        _ => {}
    }
    match ty {
        "SPATIAL_JOIN" if j < 1 || f < 1 => return Some("spatial_join_needs_join"),
        "MULTI_JOIN" if t < 3 && j < 2 => return Some("multi_join_too_small"),
        "AGGREGATION" | "SPATIAL_PROCESSING" | "SPATIAL_MEASUREMENT" | "SIMPLE_SELECT"
            if t >= 3 || j >= 2 =>
        {
            return Some("flat_type_too_many_joins")
        }
        "SPATIAL_PROCESSING" | "SPATIAL_MEASUREMENT" | "SPATIAL_CLUSTERING" if f < 1 => {
            return Some("type_needs_spatial_call")
        }
        _ => {}
    }
    let prim_ok = match ty {
        "SIMPLE_SELECT" => matches!(prim, "none" | "accessors" | "constructors" | "transforms"),
        "SPATIAL_MEASUREMENT" => {
            !matches!(prim, "processing" | "validation" | "clustering" | "raster")
        }
        "RASTER_VECTOR" => prim != "clustering" || f >= 2,
        "SPATIAL_CLUSTERING" => prim != "raster",
        _ => !matches!(prim, "clustering" | "raster"),
    };
    if !prim_ok {
        return Some("primary_category_vs_type");
    }
    None
}

impl FeatureTable {
    /// Build a table from extracted features; domains are the declared ones widened to
    /// what was observed.
    pub fn from_features(features: &[QueryFeatures]) -> FeatureTable {
        let rows: Vec<StructureRow> = features.iter().map(QueryFeatures::to_row).collect();
        let columns = FEATURE_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, (name, domain))| {
                let kind = match domain {
                    Domain::Int(lo, hi) => {
                        let (mut min, mut max) = (*lo, *hi);
                        for r in &rows {
                            if let FeatureValue::Int(v) = r.0[i] {
                                min = min.min(v);
                                max = max.max(v);
                            }
                        }
                        ColumnKind::Numerical { min, max }
                    }
                    Domain::Cat(vocab) => {
                        let mut categories: Vec<String> =
                            vocab.iter().map(|s| s.to_string()).collect();
                        for r in &rows {
                            if let FeatureValue::Cat(c) = &r.0[i] {
                                if !categories.contains(c) {
                                    categories.push(c.clone());
                                }
                            }
                        }
                        ColumnKind::Categorical { categories }
                    }
                };
                ColumnMeta {
                    name: name.to_string(),
                    kind,
                }
            })
            .collect();
        FeatureTable { columns, rows }
    }

    /// Write the table as CSV with a header row.
    pub fn write_csv<W: Write>(&self, out: W) -> Result<(), csv::Error> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(self.columns.iter().map(|c| c.name.as_str()))?;
        for r in &self.rows {
            w.write_record(r.0.iter().map(|v| v.to_string()))?;
        }
        w.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(sql: &str) -> QueryFeatures {
        let pack = SchemaPack::default_pack();
        FeatureExtractor::new(&pack)
            .extract(sql, &RecordLabels::default())
            .unwrap()
    }

    #[test]
    fn counts_come_from_the_ast() {
        let f = features(
            "WITH big AS (SELECT building_id FROM cim_vector.building_properties WHERE height > (SELECT avg(height) FROM cim_vector.building_properties))
             SELECT b.building_id, ST_Area(b.building_geometry::geography)
             FROM cim_vector.building b JOIN big ON big.building_id = b.building_id, cim_census.census_geo c
             WHERE ST_Within(b.building_geometry, c.geometry) AND b.lod IN (SELECT 1)
             ORDER BY 2 DESC LIMIT 5",
        );
        assert_eq!(f.cte_count, 1);
        assert_eq!(f.join_count, 2, "one JOIN plus one comma relation");
        assert_eq!(
            f.subquery_count, 1,
            "the subquery inside the CTE body does not count"
        );
        assert_eq!(f.spatial_function_count, 2);
        assert_eq!(f.table_count, 3);
        assert_eq!(f.schema_count, 2);
        assert_eq!(f.sql_type, "NESTED_QUERY");
        assert_eq!(f.limit_strategy, "TOP_N");
        assert_eq!(f.schema_complexity, "MULTI_SCHEMA");
        // 2*1 + 2*1 + 2 + ceil(2/2) + (2-1) + 1 (avg) = 9
        assert_eq!(f.complexity_score, 9);
        assert_eq!(f.difficulty_level, "EXPERT");
    }

    #[test]
    fn other_packs_table_names_still_count() {
        let f = features(
            "SELECT b.building_id, public.ST_Area(b.building_geometry) FROM cim_vector.cim_wizard_building b \
             JOIN cim_vector.cim_wizard_building_properties bp ON b.building_id = bp.building_id WHERE bp.type = 'residential'",
        );
        assert_eq!(f.table_count, 2, "aliases are not tables");
        assert_eq!(f.schema_count, 1);
        assert_eq!(f.join_count, 1);
        assert_eq!(f.spatial_function_count, 1);
        assert_eq!(f.sql_type, "SPATIAL_MEASUREMENT");
        assert_eq!(f.primary_function_category, "measurements");
    }

    #[test]
    fn sql_type_rules_in_order() {
        assert_eq!(
            features("SELECT ST_Value(d.rast, ST_Centroid(b.building_geometry)) FROM cim_raster.dtm_raster d, cim_vector.building b").sql_type,
            "RASTER_VECTOR"
        );
        assert_eq!(
            features("SELECT ST_ClusterDBSCAN(geometry, 0.01, 3) OVER () FROM cim_vector.grid_bus")
                .sql_type,
            "SPATIAL_CLUSTERING"
        );
        assert_eq!(
            features("SELECT a.id FROM cim_vector.building a JOIN cim_vector.building b ON ST_Touches(a.building_geometry, b.building_geometry)").sql_type,
            "SPATIAL_JOIN"
        );
        assert_eq!(
            features("SELECT type, count(*) FROM cim_vector.building_properties GROUP BY type")
                .sql_type,
            "AGGREGATION"
        );
        assert_eq!(
            features("SELECT ST_Buffer(geometry, 0.001) FROM cim_vector.grid_bus").sql_type,
            "SPATIAL_PROCESSING"
        );
        assert_eq!(
            features("SELECT id FROM cim_vector.grid_bus WHERE zone = 'MV' ORDER BY id").sql_type,
            "SIMPLE_SELECT"
        );
        assert_eq!(
            features("SELECT id FROM cim_vector.grid_bus WHERE zone = 'MV' ORDER BY id")
                .limit_strategy,
            "ORDERED_ONLY"
        );
    }

    #[test]
    fn tone_is_inferred_without_a_label() {
        assert_eq!(
            infer_tone("Which buildings are taller than 20 m?"),
            "INTERROGATIVE"
        );
        assert_eq!(infer_tone("Compare the mean height per type"), "ANALYTICAL");
        assert_eq!(infer_tone("List all buses"), "DIRECT");
    }
}

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

mod structure;

pub use structure::{
    complexity_score, Difficulty, Domain, Label, LimitStrategy, PrimaryCategory, QueryType,
    QuestionTone, SchemaComplexity, Structure, StructureError, UsageFrequency, FEATURE_COLUMNS,
    LABEL_ONLY_COLUMNS, SQL_TYPES,
};

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

/// The features of one query: its [`Structure`] and what it calls and reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryFeatures {
    /// The feature columns.
    #[serde(flatten)]
    pub structure: Structure,
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
        let complexity = complexity_score(
            cte,
            sub,
            join,
            spatial,
            schemas,
            facts.has_aggregate || facts.has_window,
        );
        let has =
            |cats: &[FunctionCategory]| facts.spatial_calls.iter().any(|(_, c)| cats.contains(c));
        let sql_type = if has(&[FunctionCategory::Raster]) || facts.raster_ref {
            QueryType::RasterVector
        } else if has(&[FunctionCategory::Clustering]) {
            QueryType::SpatialClustering
        } else if cte > 0 || sub > 0 {
            QueryType::NestedQuery
        } else if facts.spatial_join {
            QueryType::SpatialJoin
        } else if tables >= 3 || join >= 2 {
            QueryType::MultiJoin
        } else if facts.has_group_by || facts.has_aggregate {
            QueryType::Aggregation
        } else if has(&[FunctionCategory::Processing, FunctionCategory::Validation]) {
            QueryType::SpatialProcessing
        } else if has(&[FunctionCategory::Measurements, FunctionCategory::Predicates]) {
            QueryType::SpatialMeasurement
        } else {
            QueryType::SimpleSelect
        };
        let usage_frequency = match labels.usage_frequency {
            Some(f) if !f.is_empty() => UsageFrequency::parse(f).expect("an open vocabulary"),
            _ => facts
                .spatial_calls
                .iter()
                .filter_map(|(n, _)| pack.function(n).map(|(s, _)| s.frequency))
                .min()
                .unwrap_or(Frequency::High)
                .into(),
        };
        let question_tone = match labels.question_tone {
            Some(t) if !t.is_empty() => QuestionTone::parse(t).expect("an open vocabulary"),
            _ => QuestionTone::of(labels.question.unwrap_or("")),
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
            .map(|(_, c)| PrimaryCategory::from(c))
            .unwrap_or(PrimaryCategory::None);
        let limit_strategy = if facts.has_limit {
            LimitStrategy::TopN
        } else if facts.has_order_by {
            LimitStrategy::OrderedOnly
        } else {
            LimitStrategy::FullResults
        };
        let mut spatial_functions: Vec<String> = Vec::new();
        for (n, _) in &facts.spatial_calls {
            if !spatial_functions.contains(n) {
                spatial_functions.push(n.clone());
            }
        }
        QueryFeatures {
            structure: Structure {
                cte_count: cte,
                join_count: join,
                subquery_count: sub,
                spatial_function_count: spatial,
                table_count: tables,
                schema_count: schemas,
                complexity_score: complexity,
                sql_type,
                difficulty_level: Difficulty::of(complexity),
                schema_complexity: SchemaComplexity::of(tables, schemas),
                usage_frequency,
                question_tone,
                primary_function_category: primary,
                limit_strategy,
            },
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
        self.structure.to_row()
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

/// The first structural rule a positional row breaks ([`Structure::violation`]), or
/// `row_shape` / `value_kinds` when it is no [`Structure`] at all.
pub fn structure_violation(row: &StructureRow) -> Option<&'static str> {
    checked_structure(row).err()
}

/// The structure a positional row stands for when it keeps every structural rule; else
/// the rule it breaks, as [`structure_violation`] names it.
pub fn checked_structure(row: &StructureRow) -> Result<Structure, &'static str> {
    match Structure::from_row(row) {
        Ok(s) => match s.violation() {
            None => Ok(s),
            Some(rule) => Err(rule),
        },
        Err(StructureError::Width { .. }) => Err("row_shape"),
        Err(_) => Err("value_kinds"),
    }
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
        assert_eq!(f.structure.cte_count, 1);
        assert_eq!(
            f.structure.join_count, 2,
            "one JOIN plus one comma relation"
        );
        assert_eq!(
            f.structure.subquery_count, 1,
            "the subquery inside the CTE body does not count"
        );
        assert_eq!(f.structure.spatial_function_count, 2);
        assert_eq!(f.structure.table_count, 3);
        assert_eq!(f.structure.schema_count, 2);
        assert_eq!(f.structure.sql_type, "NESTED_QUERY");
        assert_eq!(f.structure.limit_strategy, "TOP_N");
        assert_eq!(f.structure.schema_complexity, "MULTI_SCHEMA");
        // 2*1 + 2*1 + 2 + ceil(2/2) + (2-1) + 1 (avg) = 9
        assert_eq!(f.structure.complexity_score, 9);
        assert_eq!(f.structure.difficulty_level, "EXPERT");
    }

    #[test]
    fn other_packs_table_names_still_count() {
        let f = features(
            "SELECT b.building_id, public.ST_Area(b.building_geometry) FROM cim_vector.cim_wizard_building b \
             JOIN cim_vector.cim_wizard_building_properties bp ON b.building_id = bp.building_id WHERE bp.type = 'residential'",
        );
        assert_eq!(f.structure.table_count, 2, "aliases are not tables");
        assert_eq!(f.structure.schema_count, 1);
        assert_eq!(f.structure.join_count, 1);
        assert_eq!(f.structure.spatial_function_count, 1);
        assert_eq!(f.structure.sql_type, "SPATIAL_MEASUREMENT");
        assert_eq!(f.structure.primary_function_category, "measurements");
    }

    #[test]
    fn sql_type_rules_in_order() {
        assert_eq!(
            features("SELECT ST_Value(d.rast, ST_Centroid(b.building_geometry)) FROM cim_raster.dtm_raster d, cim_vector.building b").structure.sql_type,
            "RASTER_VECTOR"
        );
        assert_eq!(
            features("SELECT ST_ClusterDBSCAN(geometry, 0.01, 3) OVER () FROM cim_vector.grid_bus")
                .structure
                .sql_type,
            "SPATIAL_CLUSTERING"
        );
        assert_eq!(
            features("SELECT a.id FROM cim_vector.building a JOIN cim_vector.building b ON ST_Touches(a.building_geometry, b.building_geometry)").structure.sql_type,
            "SPATIAL_JOIN"
        );
        assert_eq!(
            features("SELECT type, count(*) FROM cim_vector.building_properties GROUP BY type")
                .structure
                .sql_type,
            "AGGREGATION"
        );
        assert_eq!(
            features("SELECT ST_Buffer(geometry, 0.001) FROM cim_vector.grid_bus")
                .structure
                .sql_type,
            "SPATIAL_PROCESSING"
        );
        assert_eq!(
            features("SELECT id FROM cim_vector.grid_bus WHERE zone = 'MV' ORDER BY id")
                .structure
                .sql_type,
            "SIMPLE_SELECT"
        );
        assert_eq!(
            features("SELECT id FROM cim_vector.grid_bus WHERE zone = 'MV' ORDER BY id")
                .structure
                .limit_strategy,
            "ORDERED_ONLY"
        );
    }

    #[test]
    fn tone_is_inferred_without_a_label() {
        assert_eq!(
            QuestionTone::of("Which buildings are taller than 20 m?"),
            "INTERROGATIVE"
        );
        assert_eq!(
            QuestionTone::of("Compare the mean height per type"),
            "ANALYTICAL"
        );
        assert_eq!(QuestionTone::of("List all buses"), "DIRECT");
        // A setting said first does not change the tone of the request after it.
        assert_eq!(
            QuestionTone::of("At LOD 0, I want the building id of buildings."),
            "DESCRIPTIVE"
        );
        assert_eq!(
            QuestionTone::of("In scenario 'baseline', compute the length of lines."),
            "ANALYTICAL"
        );
        assert_eq!(QuestionTone::of("In Milan, list the buses."), "DIRECT");
    }
}

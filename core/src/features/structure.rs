//! The typed structure of a query: the feature columns as named fields and enums, their
//! domains, and the rules that derive some columns from others, each written once here
//! (the extractor, the structural constraints, the selector and the pipeline use them;
//! synthesizers see the same columns as a positional [`StructureRow`] of a
//! [`FeatureTable`](super::FeatureTable)).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{FeatureValue, StructureRow};
use crate::pack::{Frequency, FunctionCategory};

/// A declared column domain.
#[derive(Debug, Clone, Copy)]
pub enum Domain {
    /// Integers in [min, max].
    Int(i64, i64),
    /// A vocabulary.
    Cat(&'static [&'static str]),
}

/// A feature label read from text.
pub trait Label: Sized {
    /// The declared vocabulary, in the order synthesizers number it.
    const NAMES: &'static [&'static str];
    /// The label as records write it.
    fn as_str(&self) -> &str;
    /// The label of `text`; `None` when a closed vocabulary lacks it.
    fn parse(text: &str) -> Option<Self>;
}

/// A closed vocabulary (the extractor derives these labels from SQL).
macro_rules! closed_label {
    ($(#[$m:meta])* $name:ident { $( $(#[doc = $d:literal])* $var:ident = $s:literal ),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[doc = $d])* $var ),+
        }
        impl $name {
            /// Every label, in vocabulary order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The label as records write it.
            pub const fn name(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }
        impl Label for $name {
            const NAMES: &'static [&'static str] = &[$($s),+];
            fn as_str(&self) -> &str {
                self.name()
            }
            fn parse(text: &str) -> Option<$name> {
                match text { $($s => Some($name::$var),)+ _ => None }
            }
        }
        label_traits!($name);
    };
}

/// An open vocabulary: records label these, and a corpus may use labels of its own
/// (the reference corpus has tones such as `TEMPORAL`), kept as `Other`.
macro_rules! open_label {
    ($(#[$m:meta])* $name:ident { $( $(#[doc = $d:literal])* $var:ident = $s:literal ),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[doc = $d])* $var, )+
            /// A label outside the declared vocabulary, as the corpus writes it.
            Other(String),
        }
        impl Label for $name {
            const NAMES: &'static [&'static str] = &[$($s),+];
            fn as_str(&self) -> &str {
                match self { $($name::$var => $s,)+ $name::Other(s) => s }
            }
            fn parse(text: &str) -> Option<$name> {
                Some(match text { $($s => $name::$var,)+ other => $name::Other(other.to_string()) })
            }
        }
        label_traits!($name);
    };
}

macro_rules! label_traits {
    ($name:ident) => {
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = String::deserialize(d)?;
                <$name as Label>::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown {} {text:?} (expected one of {})",
                        stringify!($name),
                        <$name as Label>::NAMES.join(", ")
                    ))
                })
            }
        }
    };
}

closed_label! {
    /// The query type (`sql_type`): the first rule of the feature table that applies (see
    /// [`features`](super)).
    QueryType {
        /// None of the others.
        SimpleSelect = "SIMPLE_SELECT",
        /// A spatial predicate over two relations.
        SpatialJoin = "SPATIAL_JOIN",
        /// GROUP BY or an aggregate.
        Aggregation = "AGGREGATION",
        /// A CTE or subquery.
        NestedQuery = "NESTED_QUERY",
        /// A measurement or predicate function.
        SpatialMeasurement = "SPATIAL_MEASUREMENT",
        /// A processing or validation function.
        SpatialProcessing = "SPATIAL_PROCESSING",
        /// A clustering function.
        SpatialClustering = "SPATIAL_CLUSTERING",
        /// A raster function or raster column.
        RasterVector = "RASTER_VECTOR",
        /// At least 3 tables or 2 joins.
        MultiJoin = "MULTI_JOIN",
    }
}

closed_label! {
    /// Difficulty from the complexity score ([`Difficulty::of`]).
    Difficulty {
        /// Complexity 0–2.
        Easy = "EASY",
        /// Complexity 3–4.
        Medium = "MEDIUM",
        /// Complexity 5–7.
        Hard = "HARD",
        /// Complexity 8–10.
        Expert = "EXPERT",
    }
}

closed_label! {
    /// How many tables and schemas a query reads ([`SchemaComplexity::of`]).
    SchemaComplexity {
        /// At most one table.
        SingleTable = "SINGLE_TABLE",
        /// Several tables of one schema.
        SingleSchema = "SINGLE_SCHEMA",
        /// Tables of several schemas.
        MultiSchema = "MULTI_SCHEMA",
    }
}

open_label! {
    /// The record's usage frequency, else the rarest catalogue frequency of its calls.
    UsageFrequency {
        /// In almost every workload.
        Critical = "CRITICAL",
        /// Very common.
        VeryHigh = "VERY_HIGH",
        /// Common.
        High = "HIGH",
        /// Occasional.
        Medium = "MEDIUM",
        /// Rare.
        Low = "LOW",
    }
}

open_label! {
    /// The record's question tone, else read from the question ([`QuestionTone::of`]).
    QuestionTone {
        /// A plain request ("List the buildings…").
        Direct = "DIRECT",
        /// A question ("Which buildings…?").
        Interrogative = "INTERROGATIVE",
        /// "I need…", "Show me…".
        Descriptive = "DESCRIPTIVE",
        /// "Calculate…", "Compare…".
        Analytical = "ANALYTICAL",
    }
}

closed_label! {
    /// The catalogue category with most calls; `none` without calls.
    PrimaryCategory {
        /// Boolean spatial relationships.
        Predicates = "predicates",
        /// Areas, lengths, distances.
        Measurements = "measurements",
        /// Geometry processing.
        Processing = "processing",
        /// Coordinates, counts, text output.
        Accessors = "accessors",
        /// Geometry constructors.
        Constructors = "constructors",
        /// Reprojection.
        Transforms = "transforms",
        /// Validity checks.
        Validation = "validation",
        /// Window clustering.
        Clustering = "clustering",
        /// Raster functions.
        Raster = "raster",
        /// No catalogue call.
        None = "none",
    }
}

closed_label! {
    /// How the result is limited.
    LimitStrategy {
        /// Neither LIMIT nor ORDER BY.
        FullResults = "FULL_RESULTS",
        /// LIMIT.
        TopN = "TOP_N",
        /// ORDER BY without LIMIT.
        OrderedOnly = "ORDERED_ONLY",
    }
}

impl From<FunctionCategory> for PrimaryCategory {
    fn from(c: FunctionCategory) -> PrimaryCategory {
        match c {
            FunctionCategory::Predicates => PrimaryCategory::Predicates,
            FunctionCategory::Measurements => PrimaryCategory::Measurements,
            FunctionCategory::Processing => PrimaryCategory::Processing,
            FunctionCategory::Accessors => PrimaryCategory::Accessors,
            FunctionCategory::Constructors => PrimaryCategory::Constructors,
            FunctionCategory::Transforms => PrimaryCategory::Transforms,
            FunctionCategory::Validation => PrimaryCategory::Validation,
            FunctionCategory::Clustering => PrimaryCategory::Clustering,
            FunctionCategory::Raster => PrimaryCategory::Raster,
        }
    }
}

impl From<Frequency> for UsageFrequency {
    fn from(f: Frequency) -> UsageFrequency {
        match f {
            Frequency::Low => UsageFrequency::Low,
            Frequency::Medium => UsageFrequency::Medium,
            Frequency::High => UsageFrequency::High,
            Frequency::VeryHigh => UsageFrequency::VeryHigh,
            Frequency::Critical => UsageFrequency::Critical,
        }
    }
}

impl Difficulty {
    /// The difficulty of a complexity score.
    pub fn of(complexity: i64) -> Difficulty {
        match complexity {
            ..=2 => Difficulty::Easy,
            3..=4 => Difficulty::Medium,
            5..=7 => Difficulty::Hard,
            _ => Difficulty::Expert,
        }
    }
}

impl SchemaComplexity {
    /// The schema complexity of a query reading `tables` tables of `schemas` schemas.
    pub fn of(tables: i64, schemas: i64) -> SchemaComplexity {
        if tables <= 1 {
            SchemaComplexity::SingleTable
        } else if schemas <= 1 {
            SchemaComplexity::SingleSchema
        } else {
            SchemaComplexity::MultiSchema
        }
    }
}

impl QueryType {
    /// Whether the type's rules say the query aggregates (`Some(true)`), does not
    /// (`Some(false)`), or leave it open (`None`): what the complexity formula's last term
    /// may be.
    pub fn aggregates(self) -> Option<bool> {
        match self {
            QueryType::Aggregation | QueryType::SpatialClustering => Some(true),
            QueryType::SimpleSelect
            | QueryType::SpatialProcessing
            | QueryType::SpatialMeasurement => Some(false),
            _ => None,
        }
    }

    /// Types that hold no CTE or subquery and at most one join (a query with more is
    /// typed by it).
    pub fn is_flat(self) -> bool {
        matches!(
            self,
            QueryType::SpatialJoin
                | QueryType::MultiJoin
                | QueryType::Aggregation
                | QueryType::SpatialProcessing
                | QueryType::SpatialMeasurement
                | QueryType::SimpleSelect
        )
    }
}

/// The structure columns SQL text cannot carry (labels of the record): left out wherever a
/// structure re-extracted from SQL is compared with a requested one.
pub const LABEL_ONLY_COLUMNS: [&str; 2] = ["usage_frequency", "question_tone"];

impl QuestionTone {
    /// The tone a question reads in: `?` or a wh-word INTERROGATIVE, analyse / compare /
    /// calculate… ANALYTICAL, "I need…" / "Show me…" DESCRIPTIVE, else DIRECT.
    pub fn of(question: &str) -> QuestionTone {
        let q = question.trim();
        // A setting said first ("In scenario 'baseline', list …", "At LOD 0, I want …")
        // is not the request: its tone is in what follows.
        let q = match q.split_once(", ") {
            Some((head, rest))
                if (head.starts_with("In ") || head.starts_with("At "))
                    && !rest.is_empty()
                    && !head.contains(['?', '.']) =>
            {
                rest
            }
            _ => q,
        };
        let lower = q.to_lowercase();
        let first = lower
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches(|c: char| !c.is_alphanumeric());
        if q.ends_with('?')
            || matches!(
                first,
                "what" | "which" | "how" | "where" | "who" | "when" | "is" | "are" | "do" | "does"
            )
        {
            QuestionTone::Interrogative
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
            QuestionTone::Analytical
        } else if lower.starts_with("i need")
            || lower.starts_with("i want")
            || lower.starts_with("show me")
            || first == "provide"
        {
            QuestionTone::Descriptive
        } else {
            QuestionTone::Direct
        }
    }
}

/// The complexity score: `min(10, 2·cte + 2·subquery + join + ⌈spatial/2⌉ + (schemas − 1)
/// + [aggregate or window])`.
pub fn complexity_score(
    cte: i64,
    subquery: i64,
    join: i64,
    spatial: i64,
    schemas: i64,
    aggregates: bool,
) -> i64 {
    (2 * cte
        + 2 * subquery
        + join
        + (spatial + 1) / 2
        + (schemas - 1).max(0)
        + i64::from(aggregates))
    .min(10)
}

/// Why a positional row is no [`Structure`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StructureError {
    /// The row has another number of cells than there are feature columns.
    #[error("structure row has {found} values, expected {expected}")]
    Width {
        /// Cells in the row.
        found: usize,
        /// Feature columns.
        expected: usize,
    },
    /// A count column holds a label.
    #[error("{column} must be an integer, not {value:?}")]
    NotInteger {
        /// The column.
        column: &'static str,
        /// What it holds.
        value: String,
    },
    /// A label column holds a number.
    #[error("{column} must be a label, not {value}")]
    NotLabel {
        /// The column.
        column: &'static str,
        /// What it holds.
        value: i64,
    },
    /// A closed label column holds a label outside its vocabulary.
    #[error("{column}: unknown label {value:?} (expected one of {expected})")]
    UnknownLabel {
        /// The column.
        column: &'static str,
        /// The label.
        value: String,
        /// The vocabulary, comma-separated.
        expected: String,
    },
}

/// The feature columns, each declared once: its name, type and domain. Generates
/// [`Structure`], [`FEATURE_COLUMNS`] and the conversions to and from rows.
macro_rules! structure {
    (
        counts { $( $(#[doc = $cd:literal])* $c:ident : $lo:literal ..= $hi:literal ),+ $(,)? }
        labels { $( $(#[doc = $ld:literal])* $l:ident : $lt:ty ),+ $(,)? }
    ) => {
        /// The structure of one query, by feature column (see the table in
        /// [`features`](super)).
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub struct Structure {
            $( $(#[doc = $cd])* pub $c: i64, )+
            $( $(#[doc = $ld])* pub $l: $lt, )+
        }

        /// Names and declared domains of the feature columns, in row order.
        pub const FEATURE_COLUMNS: &[(&str, Domain)] = &[
            $( (stringify!($c), Domain::Int($lo, $hi)), )+
            $( (stringify!($l), Domain::Cat(<$lt as Label>::NAMES)), )+
        ];

        impl Structure {
            /// The structure as a positional row, in [`FEATURE_COLUMNS`] order.
            pub fn to_row(&self) -> StructureRow {
                StructureRow(vec![
                    $( FeatureValue::Int(self.$c), )+
                    $( FeatureValue::Cat(self.$l.as_str().to_string()), )+
                ])
            }

            /// The structure a positional row (a synthesizer's sample) stands for.
            pub fn from_row(row: &StructureRow) -> Result<Structure, StructureError> {
                if row.0.len() != FEATURE_COLUMNS.len() {
                    return Err(StructureError::Width {
                        found: row.0.len(),
                        expected: FEATURE_COLUMNS.len(),
                    });
                }
                let mut cells = row.0.iter();
                Ok(Structure {
                    $( $c: match cells.next().expect("width checked") {
                        FeatureValue::Int(v) => *v,
                        FeatureValue::Cat(s) => return Err(StructureError::NotInteger {
                            column: stringify!($c),
                            value: s.clone(),
                        }),
                    }, )+
                    $( $l: match cells.next().expect("width checked") {
                        FeatureValue::Cat(s) => <$lt as Label>::parse(s).ok_or_else(|| {
                            StructureError::UnknownLabel {
                                column: stringify!($l),
                                value: s.clone(),
                                expected: <$lt as Label>::NAMES.join(", "),
                            }
                        })?,
                        FeatureValue::Int(v) => return Err(StructureError::NotLabel {
                            column: stringify!($l),
                            value: *v,
                        }),
                    }, )+
                })
            }

            /// The value of one column, by name.
            pub fn value(&self, column: &str) -> Option<FeatureValue> {
                match column {
                    $( stringify!($c) => Some(FeatureValue::Int(self.$c)), )+
                    $( stringify!($l) => Some(FeatureValue::Cat(self.$l.as_str().to_string())), )+
                    _ => None,
                }
            }
        }
    };
}

structure! {
    counts {
        /// CTEs in all WITH clauses.
        cte_count: 0..=5,
        /// JOIN clauses, plus extra relations in comma-separated FROM lists.
        join_count: 0..=10,
        /// Subqueries outside CTE bodies.
        subquery_count: 0..=5,
        /// Calls of functions in the pack's spatial catalogue.
        spatial_function_count: 0..=15,
        /// Distinct base tables.
        table_count: 1..=8,
        /// Distinct schemas of those tables.
        schema_count: 1..=3,
        /// The complexity score ([`complexity_score`]).
        complexity_score: 0..=10,
    }
    labels {
        /// Query type.
        sql_type: QueryType,
        /// Difficulty.
        difficulty_level: Difficulty,
        /// Schema complexity.
        schema_complexity: SchemaComplexity,
        /// Usage frequency.
        usage_frequency: UsageFrequency,
        /// Question tone.
        question_tone: QuestionTone,
        /// Primary function category.
        primary_function_category: PrimaryCategory,
        /// Limit strategy.
        limit_strategy: LimitStrategy,
    }
}

/// The sql_type vocabulary.
pub const SQL_TYPES: &[&str] = <QueryType as Label>::NAMES;

impl Structure {
    /// Whether the structure is one the feature definitions allow: the derived columns
    /// (complexity score, difficulty, schema complexity, query type, primary function
    /// category) agree with the counts the way the extractor computes them. A synthesizer
    /// learns these relations only approximately; the pipeline rejects the rows that break
    /// them before turning any into SQL (SDV's reject-sampling treatment of constraints).
    /// Returns the name of the first rule the structure breaks.
    pub fn violation(&self) -> Option<&'static str> {
        use PrimaryCategory as P;
        use QueryType as T;
        let (c, j, s, f, t, k, cx) = (
            self.cte_count,
            self.join_count,
            self.subquery_count,
            self.spatial_function_count,
            self.table_count,
            self.schema_count,
            self.complexity_score,
        );
        let (ty, prim) = (self.sql_type, self.primary_function_category);
        if k > t || t < 1 || k < 1 {
            return Some("schema_count_vs_table_count");
        }
        if t > j + 1 + s + c {
            return Some("tables_vs_relations");
        }
        if self.schema_complexity != SchemaComplexity::of(t, k) {
            return Some("schema_complexity");
        }
        if self.difficulty_level != Difficulty::of(cx) {
            return Some("difficulty_vs_complexity");
        }
        let ok = |a: bool| cx == complexity_score(c, s, j, f, k, a);
        let cx_ok = match ty.aggregates() {
            Some(a) => ok(a),
            None => ok(false) || ok(true),
        };
        if !cx_ok {
            return Some("complexity_formula");
        }
        if (prim == P::None) != (f == 0) {
            return Some("primary_category_vs_count");
        }
        let nested = c + s > 0;
        if ty == T::NestedQuery && !nested {
            return Some("nested_without_subquery");
        }
        if ty.is_flat() && nested {
            return Some("subquery_in_flat_type");
        }
        match ty {
            T::SpatialJoin if j < 1 || f < 1 => return Some("spatial_join_needs_join"),
            T::MultiJoin if t < 3 && j < 2 => return Some("multi_join_too_small"),
            T::Aggregation | T::SpatialProcessing | T::SpatialMeasurement | T::SimpleSelect
                if t >= 3 || j >= 2 =>
            {
                return Some("flat_type_too_many_joins")
            }
            T::SpatialProcessing | T::SpatialMeasurement | T::SpatialClustering if f < 1 => {
                return Some("type_needs_spatial_call")
            }
            _ => {}
        }
        let prim_ok = match ty {
            T::SimpleSelect => matches!(
                prim,
                P::None | P::Accessors | P::Constructors | P::Transforms
            ),
            T::SpatialMeasurement => !matches!(
                prim,
                P::Processing | P::Validation | P::Clustering | P::Raster
            ),
            T::RasterVector => prim != P::Clustering || f >= 2,
            T::SpatialClustering => prim != P::Raster,
            _ => !matches!(prim, P::Clustering | P::Raster),
        };
        if !prim_ok {
            return Some("primary_category_vs_type");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Structure {
        Structure {
            cte_count: 1,
            join_count: 2,
            subquery_count: 0,
            spatial_function_count: 3,
            table_count: 3,
            schema_count: 2,
            complexity_score: 7,
            sql_type: QueryType::NestedQuery,
            difficulty_level: Difficulty::Hard,
            schema_complexity: SchemaComplexity::MultiSchema,
            usage_frequency: UsageFrequency::Other("VERY_LOW".into()),
            question_tone: QuestionTone::Analytical,
            primary_function_category: PrimaryCategory::Predicates,
            limit_strategy: LimitStrategy::TopN,
        }
    }

    #[test]
    fn rows_round_trip_in_column_order() {
        let s = example();
        let row = s.to_row();
        assert_eq!(row.0.len(), FEATURE_COLUMNS.len());
        assert_eq!(Structure::from_row(&row), Ok(s.clone()));
        for ((name, _), cell) in FEATURE_COLUMNS.iter().zip(&row.0) {
            assert_eq!(s.value(name).as_ref(), Some(cell), "{name}");
        }
        assert_eq!(FEATURE_COLUMNS[7].0, "sql_type");
        assert_eq!(s.value("no_such_column"), None);
    }

    #[test]
    fn bad_rows_name_the_column() {
        let mut row = example().to_row();
        row.0[7] = FeatureValue::Cat("SPATIAL_INDEX".into());
        let e = Structure::from_row(&row).unwrap_err().to_string();
        assert!(
            e.starts_with("sql_type: unknown label \"SPATIAL_INDEX\""),
            "{e}"
        );
        row.0[7] = FeatureValue::Int(3);
        assert_eq!(
            Structure::from_row(&row),
            Err(StructureError::NotLabel {
                column: "sql_type",
                value: 3
            })
        );
        let mut row = example().to_row();
        row.0[1] = FeatureValue::Cat("two".into());
        assert!(Structure::from_row(&row)
            .unwrap_err()
            .to_string()
            .starts_with("join_count must be an integer"));
        row.0.pop();
        assert_eq!(
            Structure::from_row(&row),
            Err(StructureError::Width {
                found: 13,
                expected: 14
            })
        );
    }

    #[test]
    fn open_vocabularies_keep_a_corpus_label() {
        assert_eq!(
            QuestionTone::parse("TEMPORAL"),
            Some(QuestionTone::Other("TEMPORAL".into()))
        );
        assert_eq!(QuestionTone::parse("DIRECT"), Some(QuestionTone::Direct));
        assert_eq!(Difficulty::parse("TRIVIAL"), None);
        let json = serde_json::to_string(&example()).unwrap();
        assert!(json.contains("\"usage_frequency\":\"VERY_LOW\""), "{json}");
        let back: Structure = serde_json::from_str(&json).unwrap();
        assert_eq!(back, example());
    }

    #[test]
    fn derived_columns_follow_the_counts() {
        assert_eq!(example().violation(), None);
        let mut s = example();
        s.difficulty_level = Difficulty::Easy;
        assert_eq!(s.violation(), Some("difficulty_vs_complexity"));
        let mut s = example();
        s.cte_count = 0;
        s.complexity_score = 5;
        assert_eq!(s.violation(), Some("nested_without_subquery"));
        assert_eq!(SchemaComplexity::of(1, 1), SchemaComplexity::SingleTable);
        assert_eq!(complexity_score(1, 0, 2, 3, 2, false), 7);
    }
}

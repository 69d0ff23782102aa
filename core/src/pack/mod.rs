//! Schema packs: the data that describes one database (schemas, tables, typed columns,
//! keys, the join graph, the spatial function catalogue, value domains, a question lexicon).
//!
//! A pack is plain data, read from JSON ([`SchemaPack::from_json_str`],
//! [`SchemaPack::from_path`]) or taken from the packs compiled into the crate
//! ([`SchemaPack::builtin`]). Loading checks it once (types parse, every key, join edge,
//! domain and lexicon entry names a real column) and builds the lookup indexes the
//! validator needs, so a loaded pack is always consistent.

mod ddl;
mod sample;

pub use sample::{
    Area, ColumnFill, FootprintsSource, Levels, Link, NetworkEdgesSource, NetworkNodesSource,
    PerAreaSource, PerRowSource, PostLoad, RasterTilesSource, RowSource, SampleData, Surface,
    SurfaceBy, TableFill, TilingSource, ValueSource,
};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::sql::types::{ColumnType, SqlType};

/// The CIM Wizard pack, compiled in: the embedded default.
const CIM_WIZARD_JSON: &str = include_str!("../../../schema-packs/cim-wizard/pack.json");
/// The CIM Wizard seed corpus (Stage 1 JSON Lines), compiled in.
const CIM_WIZARD_CORPUS: &str = include_str!("../../../schema-packs/cim-wizard/corpus.jsonl");

/// Names of the packs compiled into this crate.
pub const BUILTIN_PACKS: &[&str] = &["cim-wizard"];

/// Why a pack could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// The pack file could not be read.
    #[error("cannot read pack {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The JSON does not describe a pack.
    #[error("{origin}:{line}:{column}: invalid pack JSON: {message}")]
    Json {
        /// File name or `<builtin>`.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde's message.
        message: String,
    },
    /// The JSON parsed but the pack contradicts itself.
    #[error("{origin}: invalid pack: {message}")]
    Invalid {
        /// File name or `<builtin>`.
        origin: String,
        /// What is wrong, naming the element.
        message: String,
    },
    /// No built-in pack has this name and no file exists at that path.
    #[error("unknown pack {0:?}: not a built-in pack ({builtins}) nor a JSON file", builtins = BUILTIN_PACKS.join(", "))]
    Unknown(String),
}

/// A whole schema pack as stored in JSON.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackData {
    /// Short name, e.g. `cim-wizard`.
    pub name: String,
    /// Version of the pack's data.
    pub version: String,
    /// What database this describes.
    pub description: String,
    /// SQL dialect of the database (`postgis`).
    pub dialect: String,
    /// Extensions the DDL creates (`postgis`, `postgis_raster`).
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Schemas searched for unqualified table names, in order.
    #[serde(default)]
    pub search_path: Vec<String>,
    /// SRID of the stored geometries, when they share one.
    pub default_srid: Option<i32>,
    /// The schemas and their tables.
    pub schemas: Vec<Schema>,
    /// Valid joins between tables.
    #[serde(default)]
    pub joins: Vec<JoinEdge>,
    /// The spatial function catalogue.
    pub functions: Vec<FunctionSpec>,
    /// Realistic literal values per column (or per named quantity starting with `@`).
    #[serde(default)]
    pub value_domains: Vec<ValueDomain>,
    /// Words for questions.
    #[serde(default)]
    pub lexicon: Lexicon,
    /// The places the database covers, with their extents, metric CRS and coherent values.
    #[serde(default)]
    pub areas: Vec<Area>,
    /// How to fill a coherent sample database (`sqlsynth sample-db`).
    #[serde(default)]
    pub sample_data: Option<SampleData>,
}

/// One database schema.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Schema name (lower case).
    pub name: String,
    /// What it holds.
    #[serde(default)]
    pub description: String,
    /// Its tables.
    pub tables: Vec<Table>,
}

/// One table.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Table name (lower case).
    pub name: String,
    /// What a row is.
    #[serde(default)]
    pub description: String,
    /// Primary key columns.
    pub primary_key: Vec<String>,
    /// Unique keys.
    #[serde(default)]
    pub unique: Vec<Vec<String>>,
    /// A column whose values are alternative versions of the same rows (a project's
    /// scenarios: every building once per scenario). An analysis reads one version, so
    /// the generator pins it (to a value of its domain, the first one most often) unless
    /// the query groups by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_column: Option<String>,
    /// The column that names a row for people, shown when a query lists rows (a project's
    /// name, a bus's name). Default: the first column whose role is `name`, else the first
    /// primary-key column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The columns that identify the entity a row describes, what "how many" counts (a
    /// building has a row per level of detail: its entity is `building_id`, not the row
    /// id). Default: the primary key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entity: Vec<String>,
    /// Columns in table order.
    pub columns: Vec<Column>,
}

/// What a column holds, for the people who query it: which filters, groupings and
/// aggregates of it mean something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    /// Identifies a row or refers to another table's row (row ids, foreign keys, the codes
    /// tables join on): compared and counted, never summed or averaged.
    Key,
    /// Names a row for people (a project name, a bus name).
    Name,
    /// A label many rows share (a use type, a level of detail): filtered and grouped by.
    Category,
    /// A number or text that codes something and is no quantity (an EPSG code, a region
    /// code): compared, never summed, averaged or ranked.
    Code,
    /// A quantity (see the column's `unit` and `additive`): averaged, ranked, compared
    /// with thresholds; summed only when `additive`.
    Measure,
    /// A yes/no property.
    Flag,
    /// A point in time.
    Timestamp,
    /// A geometry or geography.
    Geometry,
    /// A raster.
    Raster,
    /// Free text or a document (a path, a JSON document): read, never filtered, grouped or
    /// aggregated.
    Text,
}

impl ColumnRole {
    /// The role a column of type `ty` has when the pack declares none: the type's own
    /// role for geometries, rasters, flags and times; `key` for a key column; `measure` for
    /// another number; else `text`.
    pub fn inferred(ty: &SqlType, is_key: bool) -> ColumnRole {
        match ty {
            SqlType::Geometry(_) | SqlType::Geography => ColumnRole::Geometry,
            SqlType::Raster => ColumnRole::Raster,
            SqlType::Bool => ColumnRole::Flag,
            SqlType::Timestamp => ColumnRole::Timestamp,
            _ if is_key => ColumnRole::Key,
            SqlType::Int | SqlType::BigInt | SqlType::Numeric | SqlType::Float => {
                ColumnRole::Measure
            }
            _ => ColumnRole::Text,
        }
    }

    /// Whether a column of type `ty` can play this role (a measure is a number, a flag a
    /// boolean…); `None` when it can, else what the role needs.
    fn misfit(self, ty: &SqlType) -> Option<&'static str> {
        let numeric = matches!(
            ty,
            SqlType::Int | SqlType::BigInt | SqlType::Numeric | SqlType::Float
        );
        match self {
            ColumnRole::Measure if !numeric => Some("a numeric type"),
            ColumnRole::Flag if *ty != SqlType::Bool => Some("boolean"),
            ColumnRole::Timestamp if *ty != SqlType::Timestamp => Some("a timestamp or date"),
            ColumnRole::Geometry if !matches!(ty, SqlType::Geometry(_) | SqlType::Geography) => {
                Some("a geometry or geography type")
            }
            ColumnRole::Raster if *ty != SqlType::Raster => Some("raster"),
            _ => None,
        }
    }
}

/// One column.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Column name as PostgreSQL stores it (lower case).
    pub name: String,
    /// SQL type, e.g. `varchar(100)`, `double precision`, `geometry(Polygon,4326)`, `raster`.
    #[serde(rename = "type")]
    pub sql_type: ColumnType,
    /// Whether NULL is allowed (default true).
    #[serde(default = "yes")]
    pub nullable: bool,
    /// What the column means.
    #[serde(default)]
    pub description: Option<String>,
    /// For a generic `geometry` column, the subtypes it actually holds.
    #[serde(default)]
    pub geometry_content: Option<Vec<String>>,
    /// What the column holds (see [`ColumnRole`]); inferred from its type and keys when
    /// absent ([`ColumnRole::inferred`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ColumnRole>,
    /// A measure's unit as people write it (`m`, `m²`, `kV`, `%`, `persons`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Whether summing a measure over rows means something (areas, lengths, people: yes;
    /// heights, voltages, ratios, years: no). Only for measures.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub additive: bool,
    /// A coded statistic the pack cannot put in plain words (`housing statistic ST11`): a
    /// question naming it tells the reader nothing, so the selector draws it only about
    /// one time in ten it would otherwise (enough to keep it covered).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub obscure: bool,
    /// One cell of a breakdown of the row's total (a census section's men aged 25 to 29):
    /// the table's own rows and totals ask for it, but beside the rows of another entity
    /// joined to it (each building of the section) it is noise. Only for measures.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub breakdown: bool,
}

fn yes() -> bool {
    true
}

/// Kind of a join edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinKind {
    /// Equality of key columns.
    Key,
    /// A spatial predicate between geometry / raster columns.
    Spatial,
}

/// A valid join between two tables (`schema.table`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinEdge {
    /// Key or spatial.
    pub kind: JoinKind,
    /// Left table, `schema.table`.
    pub left: String,
    /// Left columns (pairwise with `right_columns`).
    pub left_columns: Vec<String>,
    /// Right table, `schema.table`.
    pub right: String,
    /// Right columns.
    pub right_columns: Vec<String>,
    /// For spatial joins: the predicates that make sense.
    #[serde(default)]
    pub predicates: Vec<String>,
    /// What the join means.
    #[serde(default)]
    pub description: String,
    /// How many rows of each side match one row of the other, read left to right. When
    /// absent, a key join's follows from the keys (columns covering a primary or unique key
    /// are the "one" side) and a spatial join's is many to many. `many_to_many` key joins
    /// are per-group cross products: the generator uses them only as semi-joins (`EXISTS`,
    /// `IN`); a spatial one (neighbours within a distance) multiplies rows like a
    /// one-to-many join, and the generator makes at most one such join per query.
    #[serde(default)]
    pub cardinality: Option<Cardinality>,
    /// The cardinality once every side with a `version_column` reads one version (the
    /// generator pins it): buildings inside a project's boundary are many to many over all
    /// scenarios (one project row per scenario) and many to one within one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cardinality_in_version: Option<Cardinality>,
    /// For a key join between tables with geometries: the left row's geometry lies inside
    /// or on the right row's (a building in its census section). A distance between the
    /// two is then always 0.
    #[serde(default)]
    pub left_within_right: bool,
    /// For a key join: the right row, and the entity it describes (a cached height stands
    /// for its building), lies inside the left row's geometries (a project's boundary holds
    /// its buildings, buses and lines). A distance between them is then always 0.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub right_within_left: bool,
    /// How the join reads in a question, when "with their rows" does not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phrases: Option<JoinPhrases>,
}

/// How a key join reads in a question, after the noun of the rows it starts from.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinPhrases {
    /// Right rows attached to left rows ("with the lines leaving them").
    pub forward: String,
    /// Left rows attached to right rows ("with the bus they leave from").
    pub backward: String,
    /// The joined rows only describe the rows they join (a building's census section):
    /// without conditions of their own the join is not narrated at all, its columns
    /// reading as the joined rows' own; with some, the phrase carries them ("in census
    /// sections with total population below 650").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub silent_without_conditions: bool,
    /// What one right row is to its left row, read forward ("outgoing line"): names it
    /// where another relation of its table would make "the line name" ambiguous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_noun: Option<String>,
    /// What one left row is to its right row, read backward ("start bus").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backward_noun: Option<String>,
}

/// How rows of a join's two sides match, read left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cardinality {
    /// One left row to at most one right row, and back.
    OneToOne,
    /// Many left rows to one right row.
    ManyToOne,
    /// One left row to many right rows.
    OneToMany,
    /// Many to many (a cross product within each group of equal keys).
    ManyToMany,
}

/// Category of a catalogue function.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FunctionCategory {
    /// Boolean spatial relationships (ST_Intersects, ST_DWithin, ...).
    Predicates,
    /// Areas, lengths, distances.
    Measurements,
    /// Geometry processing (ST_Buffer, ST_Union, ...).
    Processing,
    /// Coordinates, counts, text output.
    Accessors,
    /// Building geometries (ST_MakePoint, ST_SetSRID, ...).
    Constructors,
    /// Reprojection and coordinate changes.
    Transforms,
    /// Validity checks and repair.
    Validation,
    /// Window clustering functions.
    Clustering,
    /// Raster functions.
    Raster,
}

impl FunctionCategory {
    /// All categories, in the order used for tie-breaking.
    pub const ALL: [FunctionCategory; 9] = [
        FunctionCategory::Raster,
        FunctionCategory::Clustering,
        FunctionCategory::Processing,
        FunctionCategory::Measurements,
        FunctionCategory::Predicates,
        FunctionCategory::Transforms,
        FunctionCategory::Constructors,
        FunctionCategory::Validation,
        FunctionCategory::Accessors,
    ];
    /// The snake_case name used in JSON and in the feature table.
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionCategory::Predicates => "predicates",
            FunctionCategory::Measurements => "measurements",
            FunctionCategory::Processing => "processing",
            FunctionCategory::Accessors => "accessors",
            FunctionCategory::Constructors => "constructors",
            FunctionCategory::Transforms => "transforms",
            FunctionCategory::Validation => "validation",
            FunctionCategory::Clustering => "clustering",
            FunctionCategory::Raster => "raster",
        }
    }
}

/// Usage frequency label.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Frequency {
    /// Rare.
    Low,
    /// Occasional.
    Medium,
    /// Common.
    High,
    /// Very common.
    VeryHigh,
    /// In almost every workload.
    Critical,
}

impl Frequency {
    /// The label used in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Low => "LOW",
            Frequency::Medium => "MEDIUM",
            Frequency::High => "HIGH",
            Frequency::VeryHigh => "VERY_HIGH",
            Frequency::Critical => "CRITICAL",
        }
    }
}

/// One function of the spatial catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    /// Canonical spelling, e.g. `ST_Area`.
    pub name: String,
    /// Category.
    pub category: FunctionCategory,
    /// How often it is used.
    pub frequency: Frequency,
    /// Clauses where it may appear (`select`, `where`, `join`, `order_by`, `having`).
    pub clauses: Vec<String>,
    /// One line on what it computes.
    #[serde(default)]
    pub description: String,
    /// Overloads, as PostgreSQL declares them.
    pub signatures: Vec<Signature>,
    /// Geometry kinds the first geometry argument should have (`puntal`, `lineal`, `polygonal`).
    #[serde(default)]
    pub geometry_input: Option<Vec<String>>,
    /// `srid` when results or distance arguments are in the units of the input's SRID.
    #[serde(default)]
    pub units: Option<String>,
}

/// One overload.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Arguments in order.
    pub args: Vec<SignatureArg>,
    /// Return type name.
    pub returns: String,
    /// `aggregate` or `window` (default: a plain function).
    #[serde(default)]
    pub kind: Option<String>,
    /// Geometry subtype of the result (`Point`, `Polygon`, ... or `same` as the input).
    #[serde(default)]
    pub result_geometry: Option<String>,
    /// Where the result SRID comes from: `input` (default), `none`, or `arg:N` (a literal argument).
    #[serde(default)]
    pub result_srid: Option<String>,
}

/// One argument of an overload.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureArg {
    /// PostgreSQL type name.
    #[serde(rename = "type")]
    pub sql_type: String,
    /// Argument name, when PostgreSQL declares one.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether it has a default (may be omitted).
    #[serde(default)]
    pub optional: bool,
}

/// Realistic values for a column (`schema.table.column`) or a named quantity (`@distance_m`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ValueDomain {
    /// A numeric range.
    Range {
        /// Column or quantity.
        column: String,
        /// Lowest realistic value.
        min: f64,
        /// Highest realistic value.
        max: f64,
        /// Whether values are integers.
        #[serde(default)]
        integer: bool,
        /// Unit, e.g. `m`.
        #[serde(default)]
        unit: Option<String>,
    },
    /// A closed list of values.
    Enum {
        /// Column or quantity.
        column: String,
        /// The values (strings or numbers).
        values: Vec<serde_json::Value>,
    },
    /// The days a timestamp or date column's values fall on, `YYYY-MM-DD` both ends
    /// included.
    Dates {
        /// Column.
        column: String,
        /// Earliest day.
        from: String,
        /// Latest day.
        to: String,
    },
}

impl ValueDomain {
    /// The column or quantity this domain describes.
    pub fn column(&self) -> &str {
        match self {
            ValueDomain::Range { column, .. }
            | ValueDomain::Enum { column, .. }
            | ValueDomain::Dates { column, .. } => column,
        }
    }

    /// A dates domain's first and last day numbers ([`crate::calendar`]).
    pub fn days(&self) -> Option<(i64, i64)> {
        match self {
            ValueDomain::Dates { from, to, .. } => Some((
                crate::calendar::parse_day(from)?,
                crate::calendar::parse_day(to)?,
            )),
            _ => None,
        }
    }
}

/// Words used to phrase questions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lexicon {
    /// Per table (`schema.table`): nouns.
    #[serde(default)]
    pub tables: std::collections::BTreeMap<String, TableNouns>,
    /// Per column (`schema.table.column`): a phrase.
    #[serde(default)]
    pub columns: std::collections::BTreeMap<String, String>,
    /// Per column (`schema.table.column`): how an equality filter on it reads after the
    /// rows' noun, `{value}` standing for the literal ("of project {value}", "in {value}").
    /// A column without one reads "with `phrase` `value`".
    #[serde(default)]
    pub filters: std::collections::BTreeMap<String, String>,
    /// Per timestamp column (`schema.table.column`): the event it records, as a participle
    /// ("updated", "uploaded"), so that a date filter reads "updated since 1 March 2024".
    /// A column without one reads "whose `phrase` is on or after 1 March 2024".
    #[serde(default)]
    pub events: std::collections::BTreeMap<String, String>,
    /// Per question tone (`DIRECT`, `INTERROGATIVE`, `DESCRIPTIVE`, `ANALYTICAL`): the
    /// openings a question may take, `{body}` standing for the request and `{be}` for "is"
    /// or "are". Each must read in its tone (an interrogative ends with `?`, an analytical
    /// one starts with compute / calculate / determine …). Built-in English openings when
    /// absent. A key `<TONE>/plain` holds the openings for requests that return stored
    /// columns only (nothing computed), when they need other verbs.
    #[serde(default)]
    pub openings: std::collections::BTreeMap<String, Vec<String>>,
}

/// Singular and plural noun for a table's rows.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableNouns {
    /// "building".
    pub singular: String,
    /// "buildings".
    pub plural: String,
}

/// A loaded, checked schema pack with lookup indexes.
#[derive(Debug, Clone)]
pub struct SchemaPack {
    data: PackData,
    corpus: Option<String>,
    tables: HashMap<(String, String), TableInfo>,
    functions: HashMap<String, usize>,
    signatures: Vec<Vec<ResolvedSignature>>,
    /// Per table (`schema.table`) and area-bound column: each area's value, in area order.
    area_values: HashMap<String, HashMap<String, Vec<Option<serde_json::Value>>>>,
}

/// A table resolved for lookups.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Columns with their parsed types.
    pub columns: Vec<(String, SqlType)>,
    /// Primary key.
    pub primary_key: Vec<String>,
    /// Each column's role, declared or inferred, in column order.
    pub roles: Vec<ColumnRole>,
    /// Measures whose sum means something.
    pub additive: Vec<String>,
    /// Columns the pack marks obscure (coded statistics without a plain meaning).
    pub obscure: Vec<String>,
    /// Columns the pack marks as cells of a breakdown ([`Column::breakdown`]).
    pub breakdown: Vec<String>,
    /// The column naming a row (declared, else the first `name`, else the first key).
    pub label: String,
    /// The columns identifying the entity a row describes (declared, else the primary key).
    pub entity: Vec<String>,
    /// The columns some area fixes ([`TableInfo::area_bound`]).
    pub area_bound: Vec<String>,
    /// The pack's `version_column`, if any.
    pub version: Option<String>,
}

impl TableInfo {
    /// Type of a column, by exact (folded) name.
    pub fn column(&self, name: &str) -> Option<&SqlType> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// Whether some area of the pack fixes this column's value (a project id, a network,
    /// a municipality): every row lying in one area has that area's value.
    pub fn area_bound(&self, column: &str) -> bool {
        self.area_bound.iter().any(|c| c == column)
    }

    /// Role of a column, by exact (folded) name.
    pub fn role(&self, name: &str) -> Option<ColumnRole> {
        self.columns
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| self.roles[i])
    }

    /// Whether the pack marks this column obscure ([`Column::obscure`]).
    pub fn is_obscure(&self, name: &str) -> bool {
        self.obscure.iter().any(|c| c == name)
    }

    /// The columns of one role, in column order.
    pub fn with_role(&self, role: ColumnRole) -> impl Iterator<Item = &str> + '_ {
        self.columns
            .iter()
            .zip(&self.roles)
            .filter(move |(_, r)| **r == role)
            .map(|((n, _), _)| n.as_str())
    }
}

/// A catalogue overload with parsed types.
#[derive(Debug, Clone)]
pub struct ResolvedSignature {
    /// Argument types.
    pub args: Vec<SqlType>,
    /// Number of leading arguments without a default.
    pub required: usize,
    /// Result type (subtype and SRID rules applied by the analyzer).
    pub returns: SqlType,
    /// Plain, aggregate or window.
    pub kind: FnKind,
    /// Result geometry subtype rule.
    pub result_geometry: Option<String>,
    /// Result SRID rule.
    pub result_srid: Option<String>,
}

/// Plain function, aggregate or window function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FnKind {
    /// Evaluated per row.
    Plain,
    /// Aggregate.
    Aggregate,
    /// Window-only function (needs OVER).
    Window,
}

impl SchemaPack {
    /// A pack compiled into the crate, by name (`cim-wizard`).
    pub fn builtin(name: &str) -> Result<SchemaPack, PackError> {
        match name {
            "cim-wizard" => {
                let mut pack = SchemaPack::from_json_str(CIM_WIZARD_JSON, "<builtin cim-wizard>")?;
                pack.corpus = Some(CIM_WIZARD_CORPUS.to_string());
                Ok(pack)
            }
            other => Err(PackError::Unknown(other.to_string())),
        }
    }

    /// The embedded default pack (CIM Wizard).
    pub fn default_pack() -> SchemaPack {
        SchemaPack::builtin("cim-wizard")
            .expect("the embedded CIM Wizard pack is checked by the test suite")
    }

    /// A built-in name, or else a path to a pack JSON file.
    pub fn load(name_or_path: &str) -> Result<SchemaPack, PackError> {
        if BUILTIN_PACKS.contains(&name_or_path) {
            return SchemaPack::builtin(name_or_path);
        }
        let path = Path::new(name_or_path);
        if path.exists() {
            return SchemaPack::from_path(path);
        }
        Err(PackError::Unknown(name_or_path.to_string()))
    }

    /// Read a pack from a JSON file. A `corpus.jsonl` beside it becomes its seed corpus.
    pub fn from_path(path: &Path) -> Result<SchemaPack, PackError> {
        let text = std::fs::read_to_string(path).map_err(|source| PackError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut pack = SchemaPack::from_json_str(&text, &path.display().to_string())?;
        let corpus = path.with_file_name("corpus.jsonl");
        if corpus.exists() {
            pack.corpus =
                Some(
                    std::fs::read_to_string(&corpus).map_err(|source| PackError::Io {
                        path: corpus.clone(),
                        source,
                    })?,
                );
        }
        Ok(pack)
    }

    /// Parse and check a pack from JSON text; `origin` names it in errors.
    pub fn from_json_str(text: &str, origin: &str) -> Result<SchemaPack, PackError> {
        let data: PackData = serde_json::from_str(text).map_err(|e| PackError::Json {
            origin: origin.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        SchemaPack::from_data(data, origin)
    }

    /// Check pack data and build its indexes.
    pub fn from_data(data: PackData, origin: &str) -> Result<SchemaPack, PackError> {
        let invalid = |message: String| PackError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let mut tables = HashMap::new();
        for schema in &data.schemas {
            for table in &schema.tables {
                let mut columns = Vec::with_capacity(table.columns.len());
                for c in &table.columns {
                    if columns
                        .iter()
                        .any(|(n, _): &(String, SqlType)| n == &c.name)
                    {
                        return Err(invalid(format!(
                            "{}.{}: column {} declared twice",
                            schema.name, table.name, c.name
                        )));
                    }
                    let mut ty = c.sql_type.to_sql_type();
                    if let (SqlType::Geometry(g), Some(content)) = (&mut ty, &c.geometry_content) {
                        g.kind = crate::sql::types::GeomKind::from_subtypes(content);
                    }
                    columns.push((c.name.clone(), ty));
                }
                let info = TableInfo {
                    schema: schema.name.clone(),
                    name: table.name.clone(),
                    columns,
                    primary_key: table.primary_key.clone(),
                    roles: Vec::new(),
                    additive: Vec::new(),
                    obscure: Vec::new(),
                    breakdown: Vec::new(),
                    label: String::new(),
                    entity: Vec::new(),
                    area_bound: Vec::new(),
                    version: table.version_column.clone(),
                };
                for key in table
                    .primary_key
                    .iter()
                    .chain(table.unique.iter().flatten())
                    .chain(&table.version_column)
                    .chain(&table.label)
                    .chain(&table.entity)
                {
                    if info.column(key).is_none() {
                        return Err(invalid(format!(
                            "{}.{}: {key} (of a key, the version_column, the label or the entity) is not a column",
                            schema.name, table.name
                        )));
                    }
                }
                if tables
                    .insert((schema.name.clone(), table.name.clone()), info)
                    .is_some()
                {
                    return Err(invalid(format!(
                        "table {}.{} declared twice",
                        schema.name, table.name
                    )));
                }
            }
        }
        // Roles, labels and entities: declared ones checked against the types, the rest
        // inferred (a key is a primary, unique or join-key column).
        for (si, schema) in data.schemas.iter().enumerate() {
            for (ti, table) in schema.tables.iter().enumerate() {
                let qualified = format!("{}.{}", schema.name, table.name);
                let info = tables
                    .get_mut(&(schema.name.clone(), table.name.clone()))
                    .expect("indexed above");
                for (ci, c) in table.columns.iter().enumerate() {
                    let at = format!(
                        "schemas[{si}].tables[{ti}].columns[{ci}] ({qualified}.{})",
                        c.name
                    );
                    let ty = &info.columns[ci].1;
                    let is_key = table.primary_key.contains(&c.name)
                        || table.unique.iter().any(|u| u.contains(&c.name))
                        || data.joins.iter().any(|j| {
                            j.kind == JoinKind::Key
                                && ((j.left == qualified && j.left_columns.contains(&c.name))
                                    || (j.right == qualified && j.right_columns.contains(&c.name)))
                        });
                    let role = match c.role {
                        Some(r) => {
                            if let Some(need) = r.misfit(ty) {
                                return Err(invalid(format!(
                                    "{at}: role {r:?} needs {need}, not {}",
                                    c.sql_type.as_str()
                                )));
                            }
                            r
                        }
                        None => ColumnRole::inferred(ty, is_key),
                    };
                    if role != ColumnRole::Measure
                        && (c.unit.is_some() || c.additive || c.breakdown)
                    {
                        return Err(invalid(format!(
                            "{at}: unit, additive and breakdown belong to measures, not to a {role:?} column"
                        )));
                    }
                    if c.additive {
                        info.additive.push(c.name.clone());
                    }
                    if c.obscure {
                        info.obscure.push(c.name.clone());
                    }
                    if c.breakdown {
                        info.breakdown.push(c.name.clone());
                    }
                    info.roles.push(role);
                }
                info.label = table
                    .label
                    .clone()
                    .or_else(|| info.with_role(ColumnRole::Name).next().map(str::to_string))
                    .or_else(|| table.primary_key.first().cloned())
                    .or_else(|| info.columns.first().map(|(n, _)| n.clone()))
                    .ok_or_else(|| {
                        invalid(format!(
                            "schemas[{si}].tables[{ti}] ({qualified}) has no columns"
                        ))
                    })?;
                info.area_bound = table
                    .columns
                    .iter()
                    .filter(|c| {
                        data.areas
                            .iter()
                            .any(|a| a.value(&qualified, &c.name).is_some())
                    })
                    .map(|c| c.name.clone())
                    .collect();
                info.entity = if table.entity.is_empty() {
                    table.primary_key.clone()
                } else {
                    table.entity.clone()
                };
            }
        }
        let column_exists = |qualified: &str, col: &str| -> Result<(), PackError> {
            let (s, t) = qualified
                .split_once('.')
                .ok_or_else(|| invalid(format!("{qualified:?} is not schema.table")))?;
            let info = tables
                .get(&(s.to_string(), t.to_string()))
                .ok_or_else(|| invalid(format!("unknown table {qualified}")))?;
            info.column(col)
                .map(|_| ())
                .ok_or_else(|| invalid(format!("{qualified} has no column {col}")))
        };
        for (i, j) in data.joins.iter().enumerate() {
            if j.left_columns.len() != j.right_columns.len() || j.left_columns.is_empty() {
                return Err(invalid(format!(
                    "join {i} ({} - {}): column lists differ in length",
                    j.left, j.right
                )));
            }
            for c in &j.left_columns {
                column_exists(&j.left, c)?;
            }
            for c in &j.right_columns {
                column_exists(&j.right, c)?;
            }
        }
        for d in &data.value_domains {
            let col = d.column();
            match d {
                ValueDomain::Range { min, max, .. }
                    if !(min.is_finite() && max.is_finite() && min <= max) =>
                {
                    return Err(invalid(format!(
                        "value domain {col:?}: range [{min}, {max}] is not a finite range with min <= max"
                    )));
                }
                ValueDomain::Enum { values, .. } if values.is_empty() => {
                    return Err(invalid(format!(
                        "value domain {col:?}: empty list of values"
                    )));
                }
                ValueDomain::Dates { from, to, .. } => match d.days() {
                    Some((a, b)) if a <= b => {}
                    _ => {
                        return Err(invalid(format!(
                            "value domain {col:?}: dates {from:?} to {to:?} are not two \
                             YYYY-MM-DD days, the first not after the second"
                        )))
                    }
                },
                _ => {}
            }
            if col.starts_with('@') {
                continue;
            }
            let (t, c) = col.rsplit_once('.').ok_or_else(|| {
                invalid(format!("value domain {col:?} is not schema.table.column"))
            })?;
            column_exists(t, c)?;
            if matches!(d, ValueDomain::Dates { .. }) {
                let (sc, tn) = t.split_once('.').unwrap_or(("", t));
                let ty = tables
                    .get(&(sc.to_string(), tn.to_string()))
                    .and_then(|i: &TableInfo| i.column(c));
                if ty != Some(&SqlType::Timestamp) {
                    return Err(invalid(format!(
                        "value domain {col:?}: dates for a column that is not a timestamp"
                    )));
                }
            }
        }
        for k in data.lexicon.events.keys() {
            let (t, c) = k.rsplit_once('.').ok_or_else(|| {
                invalid(format!("lexicon event {k:?} is not schema.table.column"))
            })?;
            column_exists(t, c)?;
        }
        for t in data.lexicon.tables.keys() {
            let (s, n) = t.split_once('.').unwrap_or(("", t));
            if !tables.contains_key(&(s.to_string(), n.to_string())) {
                return Err(invalid(format!("lexicon names unknown table {t}")));
            }
        }
        for (i, a) in data.areas.iter().enumerate() {
            let e = a.extent;
            if !(e.iter().all(|x| x.is_finite()) && e[0] < e[2] && e[1] < e[3]) {
                return Err(invalid(format!(
                    "areas[{i}] ({}): extent {e:?} is not [min_x, min_y, max_x, max_y] with min < max",
                    a.id
                )));
            }
            if data.areas[..i].iter().any(|b| b.id == a.id) {
                return Err(invalid(format!("areas[{i}]: id {:?} used twice", a.id)));
            }
            for t in a.only_tables.iter().flatten() {
                let (s, n) = t.split_once('.').unwrap_or(("", t));
                if !tables.contains_key(&(s.to_string(), n.to_string())) {
                    return Err(invalid(format!(
                        "areas[{i}].only_tables names unknown table {t}"
                    )));
                }
            }
        }
        if let Some(sample) = &data.sample_data {
            let mut filled: Vec<&str> = Vec::new();
            for (i, f) in sample.tables.iter().enumerate() {
                let (s, n) = f.table.split_once('.').unwrap_or(("", &f.table));
                let info = tables.get(&(s.to_string(), n.to_string())).ok_or_else(|| {
                    invalid(format!(
                        "sample_data.tables[{i}]: unknown table {}",
                        f.table
                    ))
                })?;
                for (k, c) in f.columns.iter().enumerate() {
                    for name in &c.names {
                        if info.column(name).is_none() {
                            return Err(invalid(format!(
                                "sample_data.tables[{i}].columns[{k}]: {} has no column {name}",
                                f.table
                            )));
                        }
                    }
                }
                for r in f.rows.refers_to() {
                    if !filled.contains(&r) {
                        return Err(invalid(format!(
                            "sample_data.tables[{i}] ({}): refers to {r}, which is not filled before it",
                            f.table
                        )));
                    }
                }
                filled.push(&f.table);
            }
            if sample.scales.is_empty() {
                return Err(invalid("sample_data.scales: no scale is named".into()));
            }
        }
        let mut functions = HashMap::new();
        let mut signatures = Vec::with_capacity(data.functions.len());
        for (i, f) in data.functions.iter().enumerate() {
            if functions.insert(f.name.to_lowercase(), i).is_some() {
                return Err(invalid(format!("function {} declared twice", f.name)));
            }
            if f.signatures.is_empty() {
                return Err(invalid(format!("function {} has no signature", f.name)));
            }
            let mut sigs = Vec::with_capacity(f.signatures.len());
            for s in &f.signatures {
                let parse = |name: &str| {
                    SqlType::from_type_name(name).ok_or_else(|| {
                        invalid(format!("function {}: unknown type {name:?}", f.name))
                    })
                };
                let args = s
                    .args
                    .iter()
                    .map(|a| parse(&a.sql_type))
                    .collect::<Result<Vec<_>, _>>()?;
                let required = s.args.iter().take_while(|a| !a.optional).count();
                if s.args[required..].iter().any(|a| !a.optional) {
                    return Err(invalid(format!(
                        "function {}: an argument without default follows one with a default",
                        f.name
                    )));
                }
                let kind = match s.kind.as_deref() {
                    None => FnKind::Plain,
                    Some("aggregate") => FnKind::Aggregate,
                    Some("window") => FnKind::Window,
                    Some(k) => {
                        return Err(invalid(format!("function {}: unknown kind {k:?}", f.name)))
                    }
                };
                sigs.push(ResolvedSignature {
                    args,
                    required,
                    returns: parse(&s.returns)?,
                    kind,
                    result_geometry: s.result_geometry.clone(),
                    result_srid: s.result_srid.clone(),
                });
            }
            signatures.push(sigs);
        }
        let mut area_values: HashMap<String, HashMap<String, Vec<Option<serde_json::Value>>>> =
            HashMap::new();
        for ((s, t), info) in &tables {
            let key = format!("{s}.{t}");
            let cols = info
                .area_bound
                .iter()
                .map(|c| {
                    let v = data
                        .areas
                        .iter()
                        .map(|a| a.value(&key, c).cloned())
                        .collect();
                    (c.clone(), v)
                })
                .collect();
            area_values.insert(key, cols);
        }
        Ok(SchemaPack {
            data,
            corpus: None,
            tables,
            functions,
            signatures,
            area_values,
        })
    }

    /// Whether `cols` of `table` (`schema.table`) cover its primary key or a unique key:
    /// a key join onto them meets at most one row.
    pub fn covers_key(&self, table: &str, cols: &std::collections::BTreeSet<String>) -> bool {
        let Some((schema, name)) = table.split_once('.') else {
            return false;
        };
        let Some(t) = self
            .data
            .schemas
            .iter()
            .find(|s| s.name == schema)
            .and_then(|s| s.tables.iter().find(|t| t.name == name))
        else {
            return false;
        };
        let covers = |k: &Vec<String>| !k.is_empty() && k.iter().all(|c| cols.contains(c));
        covers(&t.primary_key) || t.unique.iter().any(covers)
    }

    /// Whether `column` of `table` (`schema.table`) is part of its primary key or of a
    /// unique key.
    pub fn in_key(&self, table: &str, column: &str) -> bool {
        let Some((schema, name)) = table.split_once('.') else {
            return false;
        };
        self.data
            .schemas
            .iter()
            .find(|s| s.name == schema)
            .and_then(|s| s.tables.iter().find(|t| t.name == name))
            .is_some_and(|t| {
                t.primary_key.iter().any(|c| c == column)
                    || t.unique.iter().any(|k| k.iter().any(|c| c == column))
            })
    }

    /// The pack's data, as stored.
    pub fn data(&self) -> &PackData {
        &self.data
    }

    /// Pack name.
    pub fn name(&self) -> &str {
        &self.data.name
    }

    /// The seed corpus (JSON Lines) shipped with the pack, if any.
    pub fn corpus_jsonl(&self) -> Option<&str> {
        self.corpus.as_deref()
    }

    /// A table by schema and name (both already case-folded).
    pub fn table(&self, schema: &str, name: &str) -> Option<&TableInfo> {
        self.tables.get(&(schema.to_string(), name.to_string()))
    }

    /// Resolve an unqualified table name through the pack's search path, as PostgreSQL
    /// does (CIM Wizard's search path is `public`, so its tables must be schema-qualified).
    pub fn find_table(&self, name: &str) -> Option<&TableInfo> {
        for s in &self.data.search_path {
            if let Some(t) = self.table(s, name) {
                return Some(t);
            }
        }
        None
    }

    /// Whether a schema exists in the pack (or is `public`/`pg_catalog`).
    pub fn has_schema(&self, schema: &str) -> bool {
        schema == "public"
            || schema == "pg_catalog"
            || self.data.schemas.iter().any(|s| s.name == schema)
    }

    /// A catalogue function by (case-insensitive) name.
    pub fn function(&self, name: &str) -> Option<(&FunctionSpec, &[ResolvedSignature])> {
        let i = *self.functions.get(&name.to_ascii_lowercase())?;
        Some((&self.data.functions[i], &self.signatures[i]))
    }

    /// Every table, in pack order.
    pub fn tables(&self) -> impl Iterator<Item = (&Schema, &Table)> {
        self.data
            .schemas
            .iter()
            .flat_map(|s| s.tables.iter().map(move |t| (s, t)))
    }

    /// Whether pinning `pinned` of `pinned_table` to `value` leaves `column` of `table` one
    /// value: the value names one of the pack's areas (its id or name: a project; or one of
    /// its `identifiers`: the project's network), the
    /// areas with that value agree on it, and the dependency holds over all its areas (no
    /// two places alike in the pinned column differ in this one). A project's id fixes its
    /// city and network; a region or a city may hold places the pack does not list, so
    /// it fixes nothing else.
    pub fn area_fixes(
        &self,
        (pinned_table, pinned, value): (&str, &str, &str),
        table: &str,
        column: &str,
    ) -> bool {
        let names = |a: &sample::Area| {
            a.id == value
                || a.name == value
                || a.identifiers.iter().any(|c| {
                    c == pinned && a.value(pinned_table, c).and_then(|v| v.as_str()) == Some(value)
                })
        };
        if !self.data.areas.iter().any(names) {
            return false;
        }
        let of = |t: &str, c: &str| self.area_values.get(t).and_then(|m| m.get(c));
        let (Some(keys), Some(values)) = (of(pinned_table, pinned), of(table, column)) else {
            return false;
        };
        let mut any = false;
        for (k, v) in keys.iter().zip(values.iter()) {
            if k.as_ref().and_then(|k| k.as_str()) == Some(value) {
                if v.is_none() {
                    return false;
                }
                any = true;
            }
        }
        any && keys.iter().zip(values.iter()).all(|(ka, va)| {
            ka.is_none()
                || keys
                    .iter()
                    .zip(values.iter())
                    .all(|(kb, vb)| kb != ka || vb == va)
        })
    }

    /// PostgreSQL + PostGIS DDL that creates this pack's schemas and tables.
    pub fn ddl(&self) -> String {
        ddl::render(&self.data)
    }

    /// The JSON Schema of pack files.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(PackData)).expect("a JSON Schema serialises")
    }
}

/// Whether relation `from` reaches relation `to` along `links` (alias, alias, nests) on a
/// path with at least one nesting link: the joins tie the two so that they meet (a building,
/// its cached height, the project whose boundary holds it). A distance between their
/// geometries is then 0, an intersection one of them.
pub(crate) fn tied_by_nesting(links: &[(&str, &str, bool)], from: &str, to: &str) -> bool {
    let mut seen: std::collections::BTreeSet<(&str, bool)> = Default::default();
    let mut todo = vec![(from, false)];
    while let Some((at, nested)) = todo.pop() {
        if at == to && nested {
            return true;
        }
        if !seen.insert((at, nested)) {
            continue;
        }
        for &(x, y, n) in links {
            let next = if x == at {
                y
            } else if y == at {
                x
            } else {
                continue;
            };
            todo.push((next, nested || n));
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `pack_json` fuzz target: an inverted range made the selector panic.
    #[test]
    fn inverted_or_empty_value_domains_are_rejected() {
        let pack = SchemaPack::default_pack();
        let mut data = pack.data().clone();
        data.value_domains.push(ValueDomain::Range {
            column: "@distance_m".into(),
            min: 5.0,
            max: 1.0,
            integer: true,
            unit: None,
        });
        let e = SchemaPack::from_data(data, "test").unwrap_err().to_string();
        assert!(e.contains("min <= max"), "{e}");
        let mut data = pack.data().clone();
        data.value_domains.push(ValueDomain::Enum {
            column: "@metric_srid".into(),
            values: Vec::new(),
        });
        let e = SchemaPack::from_data(data, "test").unwrap_err().to_string();
        assert!(e.contains("empty list"), "{e}");
        for (column, from, to) in [
            ("cim_vector.building.updated_at", "2024-05-01", "2024-01-01"),
            (
                "cim_vector.building.updated_at",
                "2024-02-30x",
                "2024-03-01",
            ),
            ("cim_vector.building.lod", "2024-01-01", "2024-03-01"),
        ] {
            let mut data = pack.data().clone();
            data.value_domains.push(ValueDomain::Dates {
                column: column.into(),
                from: from.into(),
                to: to.into(),
            });
            let e = SchemaPack::from_data(data, "test").unwrap_err().to_string();
            assert!(e.contains("dates"), "{e}");
        }
    }

    /// The built-in pack marks obscure exactly the census columns its lexicon can only
    /// name by their code ("housing statistic ST11"), and the flag reaches the table info.
    #[test]
    fn coded_statistics_are_obscure() {
        let pack = SchemaPack::default_pack();
        let lexicon = &pack.data().lexicon.columns;
        let mut marked = 0;
        for s in &pack.data().schemas {
            for t in &s.tables {
                let info = pack.table(&s.name, &t.name).unwrap();
                for c in &t.columns {
                    let key = format!("{}.{}.{}", s.name, t.name, c.name);
                    let phrase = lexicon.get(&key).map(String::as_str).unwrap_or("");
                    let code_only =
                        phrase.ends_with(&format!("statistic {}", c.name.to_uppercase()));
                    assert_eq!(c.obscure, code_only, "{key}: '{phrase}'");
                    assert_eq!(info.is_obscure(&c.name), c.obscure, "{key}");
                    marked += usize::from(c.obscure);
                }
            }
        }
        assert_eq!(marked, 53);
        let cg = pack.table("cim_census", "census_geo").unwrap();
        assert!(cg.is_obscure("st11") && !cg.is_obscure("p1") && !cg.is_obscure("st1"));
    }

    /// The built-in pack declares what every column holds; roles the type cannot carry,
    /// units on non-measures and labels that are no column are errors naming the place.
    #[test]
    fn column_roles_are_declared_and_checked() {
        let pack = SchemaPack::default_pack();
        for s in &pack.data().schemas {
            for t in &s.tables {
                for c in &t.columns {
                    assert!(
                        c.role.is_some(),
                        "{}.{}.{} has no role",
                        s.name,
                        t.name,
                        c.name
                    );
                }
            }
        }
        let bp = pack.table("cim_vector", "building_properties").unwrap();
        assert_eq!(bp.role("height"), Some(ColumnRole::Measure));
        assert!(bp.additive.contains(&"n_people".to_string()));
        assert!(!bp.additive.contains(&"height".to_string()));
        assert_eq!(bp.entity, ["building_id"]);
        assert_eq!(pack.table("cim_vector", "grid_bus").unwrap().label, "name");

        let edit = |f: &dyn Fn(&mut Table)| {
            let mut data = pack.data().clone();
            f(&mut data.schemas[0].tables[0]);
            SchemaPack::from_data(data, "test").unwrap_err().to_string()
        };
        let e = edit(&|t| t.columns[2].role = Some(ColumnRole::Measure));
        assert!(
            e.contains(
                "schemas[0].tables[0].columns[2] (cim_vector.project_scenario.project_name)"
            ) && e.contains("needs a numeric type"),
            "{e}"
        );
        let e = edit(&|t| t.columns[2].unit = Some("m".into()));
        assert!(
            e.contains("unit, additive and breakdown belong to measures"),
            "{e}"
        );
        let e = edit(&|t| t.label = Some("nope".into()));
        assert!(e.contains("nope") && e.contains("is not a column"), "{e}");

        // Undeclared roles are inferred from types and keys.
        let mut data = pack.data().clone();
        for c in &mut data.schemas[0].tables[0].columns {
            c.role = None;
            c.unit = None;
            c.additive = false;
        }
        let p = SchemaPack::from_data(data, "test").unwrap();
        let ps = p.table("cim_vector", "project_scenario").unwrap();
        assert_eq!(ps.role("project_id"), Some(ColumnRole::Key));
        assert_eq!(ps.role("project_boundary"), Some(ColumnRole::Geometry));
        assert_eq!(ps.role("created_at"), Some(ColumnRole::Timestamp));
        assert_eq!(ps.role("project_zoom"), Some(ColumnRole::Measure));
        assert_eq!(ps.role("project_name"), Some(ColumnRole::Text));
    }
}

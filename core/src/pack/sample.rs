//! What a pack says about its data: the places it covers ([`Area`]) and how to fill a
//! coherent sample database ([`SampleData`]).
//!
//! Everything here is data. The generator (`crate::sampledb`) knows a few generic ways of
//! making rows (one per area, a tiling of each area, footprints inside the tiles, a row per
//! row of another table, a connected network, raster tiles over each area) and a few
//! generic ways of drawing a column's value; the pack says which table uses which, with
//! which parameters, and which SQL statements derive the columns that depend on others.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A place the database covers: a project area, or a census-only area.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// Stable identifier (for CIM Wizard: the project id, or a name for census-only areas).
    pub id: String,
    /// Display name, e.g. `Milano Centro`.
    pub name: String,
    /// How a person names the place in a question, e.g. `central Milan`.
    pub place: String,
    /// Bounding box `[min_x, min_y, max_x, max_y]` in the pack's default SRID (for SRID 4326:
    /// longitude and latitude). Sample data lies inside it; literal coordinates are drawn in it.
    pub extent: [f64; 4],
    /// A metric CRS suited to the area (EPSG code), e.g. 32632 for UTM 32N.
    pub metric_srid: i32,
    /// Ground elevation range in metres (what a terrain model of the area spans).
    #[serde(default)]
    pub elevation_m: Option<[f64; 2]>,
    /// The coherent values of the area: column name (bare, applying to every table with a
    /// column of that name, or `schema.table.column`) to the value rows of this area carry.
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
    /// When set, only these tables (`schema.table`) have rows in this area.
    #[serde(default)]
    pub only_tables: Option<Vec<String>>,
    /// Columns of `values`, besides the id and name, whose value names this area alone (a
    /// project's own grid network): a filter on one fixes every other value of the area.
    /// A city or a region may hold places the pack does not list: never one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<String>,
}

impl Area {
    /// The area's value for `column` of `table` (`schema.table`), if it fixes one.
    pub fn value(&self, table: &str, column: &str) -> Option<&serde_json::Value> {
        self.values
            .get(&format!("{table}.{column}"))
            .or_else(|| self.values.get(column))
    }

    /// Whether the point `(x, y)` lies in the area's extent grown by `margin` on each side
    /// (in the extent's units).
    pub fn contains(&self, x: f64, y: f64, margin: f64) -> bool {
        let [x0, y0, x1, y1] = self.extent;
        x >= x0 - margin && x <= x1 + margin && y >= y0 - margin && y <= y1 + margin
    }

    /// Whether rows of `table` may lie in this area.
    pub fn fills(&self, table: &str) -> bool {
        self.only_tables
            .as_ref()
            .is_none_or(|t| t.iter().any(|x| x == table))
    }
}

/// How to fill a sample database for the pack (`sqlsynth sample-db`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleData {
    /// Named scales and the factor each applies to the row counts (`small` is 1).
    pub scales: BTreeMap<String, f64>,
    /// The tables to fill, in order (a table may only refer to tables filled before it).
    pub tables: Vec<TableFill>,
    /// SQL run after the rows are inserted, in order: derived columns, documented defects.
    #[serde(default)]
    pub post_load: Vec<PostLoad>,
}

/// How one table is filled.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableFill {
    /// The table, `schema.table`.
    pub table: String,
    /// How its rows are made.
    pub rows: RowSource,
    /// How columns get their values. A column not listed takes its area's value, else its
    /// value domain, else a default for its type (serial: 1, 2, …; geometry: filled by the
    /// row source; json: NULL).
    #[serde(default)]
    pub columns: Vec<ColumnFill>,
}

/// A generic way of making a table's rows.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RowSource {
    /// One row per area (times each combination of the `for_each` columns' enum values).
    PerArea(PerAreaSource),
    /// Cells that tile each area exactly (quadrilaterals with shared vertices).
    Tiling(TilingSource),
    /// Building-like polygons placed in lots inside the cells of a tiling table.
    Footprints(FootprintsSource),
    /// One row per row of an earlier table (its key join columns copied), times each
    /// combination of the `for_each` columns' enum values.
    PerRow(PerRowSource),
    /// Points of a connected network in each area.
    NetworkNodes(NetworkNodesSource),
    /// Lines joining the nodes of a network table: a spanning tree plus a few extra edges,
    /// ending on their nodes, following a street-like path.
    NetworkEdges(NetworkEdgesSource),
    /// Raster tiles covering each area.
    RasterTiles(RasterTilesSource),
}

/// Row source `per_area`: one row per area (times each combination of the `for_each` columns' enum values).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerAreaSource {
    /// Columns whose value domain is repeated per area.
    #[serde(default)]
    pub for_each: Vec<String>,
    /// Column receiving the area's boundary polygon.
    #[serde(default)]
    pub boundary: Option<String>,
    /// Column receiving the area's centre point.
    #[serde(default)]
    pub center: Option<String>,
}

/// Row source `tiling`: cells that tile each area exactly (quadrilaterals with shared vertices).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TilingSource {
    /// Geometry column receiving the cell.
    pub geometry: String,
    /// Approximate cell side in metres.
    pub cell_m: f64,
    /// Share of cells made of two separate parts.
    #[serde(default)]
    pub multipart_share: f64,
    /// Share of cells whose geometry is made invalid (a documented defect).
    #[serde(default)]
    pub invalid_share: f64,
}

/// Row source `footprints`: building-like polygons placed in lots inside the cells of a tiling table.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FootprintsSource {
    /// Geometry column receiving the footprint.
    pub geometry: String,
    /// Distinct footprints over all areas at scale 1.
    pub count: u64,
    /// The tiling table the footprints lie in.
    pub within: String,
    /// Column of this table receiving a column of the containing cell (e.g. a census code).
    #[serde(default)]
    pub link: Option<Link>,
    /// One row per footprint and level: the column and, per value of its domain, the
    /// share of footprints present at that level.
    #[serde(default)]
    pub levels: Option<Levels>,
    /// Heights drawn per footprint, in metres (skewed towards the low end).
    pub height_m: [f64; 2],
    /// Footprint side lengths in metres.
    pub side_m: [f64; 2],
    /// Share of cells left without footprints (parks, squares, yards).
    #[serde(default)]
    pub empty_share: f64,
    /// Share of footprints that fill their lot's width (terraced, touching neighbours).
    #[serde(default)]
    pub terraced_share: f64,
    /// Share of footprints that are multipolygons of two parts.
    #[serde(default)]
    pub multipolygon_share: f64,
    /// Share of footprints placed across a cell boundary (a documented defect).
    #[serde(default)]
    pub straddle_share: f64,
    /// Share of footprints duplicated under another identifier (a documented defect).
    #[serde(default)]
    pub duplicate_share: f64,
    /// Share of footprints made invalid (self-intersecting; a documented defect).
    #[serde(default)]
    pub invalid_share: f64,
}

/// Row source `per_row`: one row per row of an earlier table (its key join columns copied), times each
/// combination of the `for_each` columns' enum values.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerRowSource {
    /// The parent table.
    pub of: String,
    /// Only parent rows whose column has one of these values.
    #[serde(default)]
    pub filter: BTreeMap<String, Vec<serde_json::Value>>,
    /// Columns whose value domain is repeated per parent row.
    #[serde(default)]
    pub for_each: Vec<String>,
    /// Share of parent rows that get rows (1: all).
    #[serde(default = "one")]
    pub share: f64,
}

/// Row source `network_nodes`: points of a connected network in each area.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkNodesSource {
    /// Geometry column receiving the point.
    pub geometry: String,
    /// Nodes per area at scale 1 (times the square root of the scale factor).
    pub count_per_area: u64,
    /// When set, the first node of each area is a feeding node this far (km) from the
    /// area's centre, outside it (a primary substation supplying the district).
    #[serde(default)]
    pub feeder_km: Option<[f64; 2]>,
}

/// Row source `network_edges`: lines joining the nodes of a network table: a spanning tree plus a few extra edges,
/// ending on their nodes, following a street-like path.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkEdgesSource {
    /// The node table; the key joins between it and this table say which columns hold
    /// the end nodes.
    pub nodes: String,
    /// Geometry column receiving the line.
    pub geometry: String,
    /// Extra edges beyond the spanning tree, as a share of the nodes: half of them to a
    /// node's second-nearest neighbour, half between random nodes (long feeders).
    #[serde(default)]
    pub extra_share: f64,
    /// Columns whose value domain is repeated per edge.
    #[serde(default)]
    pub for_each: Vec<String>,
    /// Share of lines that are closed, self-crossing loops (a documented defect; at
    /// least one per area when positive).
    #[serde(default)]
    pub closed_share: f64,
    /// Share of lines whose start misses its node by a few metres (a documented defect;
    /// at least one per area when positive).
    #[serde(default)]
    pub gap_share: f64,
}

/// Row source `raster_tiles`: raster tiles covering each area.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RasterTilesSource {
    /// Raster column receiving the tile.
    pub raster: String,
    /// Pixel size in metres (converted to the pack's SRID units at each area).
    pub pixel_m: f64,
    /// Tile width and height in pixels.
    pub tile_px: u32,
    /// What the pixels hold.
    pub surface: Surface,
    /// When set, one set of tiles per value of this column, with a surface per value.
    #[serde(default)]
    pub by: Option<SurfaceBy>,
}

impl RowSource {
    /// The tables (`schema.table`) this source reads, which must be filled before.
    pub fn refers_to(&self) -> Vec<&str> {
        match self {
            RowSource::Footprints(s) => vec![s.within.as_str()],
            RowSource::PerRow(s) => vec![s.of.as_str()],
            RowSource::NetworkEdges(s) => vec![s.nodes.as_str()],
            _ => Vec::new(),
        }
    }
}

fn one() -> f64 {
    1.0
}

/// A column of this table receiving a column of a related row.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Column of this table.
    pub column: String,
    /// Column of the related table.
    pub from: String,
}

/// Levels of detail: one row per footprint and level.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Levels {
    /// The level column.
    pub column: String,
    /// Per level value, the share of footprints present at that level.
    pub shares: Vec<(serde_json::Value, f64)>,
}

/// What raster pixels hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    /// Ground elevation (a digital terrain model).
    Terrain,
    /// Ground plus the heights of the footprints (a digital surface model).
    Surface,
    /// The heights of the footprints above ground, 0 elsewhere (a height model).
    Heights,
}

/// One set of tiles per value of a column.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SurfaceBy {
    /// The column.
    pub column: String,
    /// Its values and the surface each holds.
    pub values: Vec<(serde_json::Value, Surface)>,
}

/// How the named columns get their values (one way, plus optional NULLs).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnFill {
    /// The columns this applies to.
    pub names: Vec<String>,
    /// How values are drawn.
    pub draw: ValueSource,
    /// Share of rows that get NULL instead.
    #[serde(default)]
    pub null_share: f64,
    /// Draw once per entity (footprint), so that every row of the entity (levels,
    /// scenarios) carries the same value.
    #[serde(default)]
    pub per_entity: bool,
}

/// A generic way of drawing a column's value.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ValueSource {
    /// This value for every row.
    Value(serde_json::Value),
    /// One of these values, uniformly (or with `weights`).
    Choice {
        /// The values.
        values: Vec<serde_json::Value>,
        /// Relative weights, one per value.
        #[serde(default)]
        weights: Option<Vec<f64>>,
    },
    /// A uniform number in `[min, max]`, rounded to `decimals` (0: an integer).
    Uniform {
        /// Lowest value.
        min: f64,
        /// Highest value.
        max: f64,
        /// Decimals kept.
        #[serde(default)]
        decimals: u32,
    },
    /// A share of another (numeric) column of the same row, rounded to an integer.
    ShareOf {
        /// The other column.
        column: String,
        /// Lowest share.
        min: f64,
        /// Highest share.
        max: f64,
    },
    /// One of the values listed for the value another column of the row has.
    By {
        /// The other column.
        column: String,
        /// Its values (as text) to the choices.
        map: BTreeMap<String, Vec<serde_json::Value>>,
        /// Choices for values the map does not list (default: the column's value domain).
        #[serde(default)]
        otherwise: Vec<serde_json::Value>,
    },
    /// Text with `{column}` (another column of the row, `{column:07}` zero-padded), `{n}`
    /// (1-based row number within the area) and `{area}` (the area id) filled in, parsed
    /// as the column's type.
    Format(String),
    /// 1, 2, … counted per table, or per value of `group_by` when given.
    Sequence {
        /// First value.
        #[serde(default = "first")]
        start: i64,
        /// Count separately per value of this column.
        #[serde(default)]
        group_by: Option<String>,
    },
    /// A timestamp between two dates (`YYYY-MM-DD`), at a whole minute.
    Timestamp {
        /// First day.
        from: String,
        /// Last day.
        to: String,
    },
    /// The entity's drawn height (footprints), in metres.
    EntityHeight,
    /// The mean of a raster table's pixels whose centres lie in the entity's footprint.
    ZonalMean {
        /// The raster table (`schema.table`), filled earlier.
        raster: String,
    },
    /// Left NULL at insert, computed by a `post_load` statement.
    Derived,
}

fn first() -> i64 {
    1
}

/// A SQL statement run after loading.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostLoad {
    /// What it does and why.
    pub description: String,
    /// Whether it plants a documented data defect (the share stays ≤ 2 % of a table's rows).
    #[serde(default)]
    pub defect: bool,
    /// The statement.
    pub sql: String,
}

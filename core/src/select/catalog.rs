//! What the selector needs to know about a pack, indexed once: tables with their geometry,
//! raster, numeric and categorical columns, the join graph, and literal domains.

use std::collections::{BTreeMap, BTreeSet};

use crate::pack::{ColumnRole, JoinKind, SchemaPack, ValueDomain};
use crate::sql::types::{GeomKind, SqlType};

/// A geometry column.
#[derive(Debug, Clone)]
pub(crate) struct GeomCol {
    pub name: String,
    pub kind: GeomKind,
    /// Has a Z coordinate (`PolygonZ`…).
    pub z: bool,
    /// Can hold several parts (`MultiPolygon`, `Geometry`…): part counts vary.
    pub multi: bool,
}

/// A column that can be filtered with a realistic literal.
#[derive(Debug, Clone)]
pub(crate) enum Filterable {
    /// Numeric range `[min, max]`.
    Range {
        column: String,
        min: f64,
        max: f64,
        integer: bool,
    },
    /// Closed list of values (numbers or strings).
    Enum {
        column: String,
        values: Vec<serde_json::Value>,
    },
    /// Days of a timestamp, as day numbers ([`crate::calendar`]) both ends included.
    Dates { column: String, from: i64, to: i64 },
}

impl Filterable {
    pub fn column(&self) -> &str {
        match self {
            Filterable::Range { column, .. }
            | Filterable::Enum { column, .. }
            | Filterable::Dates { column, .. } => column,
        }
    }
}

/// One table of the pack.
#[derive(Debug, Clone)]
pub(crate) struct TableCat {
    /// `schema.table`.
    pub key: String,
    pub schema: String,
    pub name: String,
    /// Short alias stem (initials).
    pub stem: String,
    pub geoms: Vec<GeomCol>,
    pub raster: Option<String>,
    /// The pack's measures (for aggregates and ordering).
    pub numeric: Vec<String>,
    /// Measures whose sum means something (areas, people).
    pub additive: Vec<String>,
    /// Coded statistics without a plain meaning: drawn only now and then
    /// ([`thin_obscure`]).
    pub obscure: BTreeSet<String>,
    /// Codes and timestamps: filters people set now and then, drawn like the obscure
    /// columns.
    pub occasional: BTreeSet<String>,
    /// The unit of each measure that has one (`m`, `persons`, `dwellings`).
    pub units: BTreeMap<String, String>,
    /// The columns identifying the entity a row describes: what "how many" counts.
    pub entity: Vec<String>,
    /// A table of one row per area (or per area and scenario): ranking its rows or
    /// clustering them many ways says little.
    pub few_rows: bool,
    /// Columns with value domains.
    pub filters: Vec<Filterable>,
    /// Enum-domain columns usable for GROUP BY.
    pub groupable: Vec<String>,
    /// Identifying column shown in results.
    pub label: String,
    pub primary_key: Vec<String>,
    /// Pairs of columns whose values the data ties together (a bus's zone and its
    /// voltage): a filter on one leaves the other nothing independent to say.
    pub dependent: Vec<(String, String)>,
    /// A unique key (entity, level) whose second column is a small coded level (a
    /// building at each level of detail): another entity is another first column at the
    /// same level, not another row.
    pub levels: Option<(String, String)>,
    /// The pack's `version_column` (a project's scenario) with the values of its domain,
    /// the default first: a query reads one version.
    pub version: Option<(String, Vec<serde_json::Value>)>,
}

impl TableCat {
    /// The columns tied to `column` by the data.
    pub fn dependents_of<'s>(&'s self, column: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.dependent.iter().filter_map(move |(a, b)| {
            if a == column {
                Some(b.as_str())
            } else if b == column {
                Some(a.as_str())
            } else {
                None
            }
        })
    }
}

/// How often an obscure column stays among the options it would be drawn from.
pub(crate) const OBSCURE_KEPT: f64 = 0.1;

/// Drops the obscure columns from a draw's options (`obscure` tells which option is one)
/// unless the stream keeps them this time ([`OBSCURE_KEPT`]); options with nothing else
/// stay whole.
pub(crate) fn thin_obscure<T>(
    rng: &mut impl rand::Rng,
    options: &mut Vec<T>,
    obscure: impl Fn(&T) -> bool,
) {
    if options.iter().any(&obscure)
        && options.iter().any(|o| !obscure(o))
        && !rng.random_bool(OBSCURE_KEPT)
    {
        options.retain(|o| !obscure(o));
    }
}

/// A join edge as the selector uses it.
#[derive(Debug, Clone)]
pub(crate) struct EdgeCat {
    pub index: usize,
    pub spatial: bool,
    pub left: usize,
    pub left_columns: Vec<String>,
    pub right: usize,
    pub right_columns: Vec<String>,
    pub predicates: Vec<String>,
    /// One left row may match many right rows.
    pub right_many: bool,
    /// One right row may match many left rows.
    pub left_many: bool,
    /// A key join whose left side lies inside the right one's geometry (the pack's
    /// `left_within_right`: a building in its census section).
    pub left_within_right: bool,
    /// A key join whose right side lies inside the left one's geometry (the pack's
    /// `right_within_left`: a project's buses inside its boundary).
    pub right_within_left: bool,
}

impl EdgeCat {
    /// Whether joining the other side onto the side we come from (`from_is_left`: the
    /// left one) can multiply rows.
    pub fn expands_into(&self, from_is_left: bool) -> bool {
        if from_is_left {
            self.right_many
        } else {
            self.left_many
        }
    }

    /// A key join that is a cross product within each group (never joined, only semi-joined).
    pub fn cross_product(&self) -> bool {
        !self.spatial && self.left_many && self.right_many
    }
}

/// The indexed pack.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    pub tables: Vec<TableCat>,
    pub edges: Vec<EdgeCat>,
    /// Named quantities (`@distance_m`, `@longitude`, …).
    pub quantities: BTreeMap<String, Filterable>,
    /// Catalogue function names (lower case) → category.
    pub functions: BTreeMap<String, crate::pack::FunctionCategory>,
    /// Lower-case name → catalogue spelling.
    pub function_names: BTreeMap<String, String>,
    /// Functions (lower case) with an aggregate overload.
    pub aggregates: BTreeSet<String>,
    /// Functions (lower case) whose every plain overload returns a geometry or geography: a shape
    /// derived from their input (a hull, an outline, a simplification).
    pub shapes: BTreeSet<String>,
    /// SRID of the data (for constructors).
    pub srid: i32,
    /// The pack's areas: literal coordinates, metric CRSs and the values of area-bound
    /// columns (project, network, municipality…) of one query come from one of them.
    pub areas: Vec<crate::pack::Area>,
    /// Per table (by index): its area-bound columns.
    pub area_bound: Vec<Vec<String>>,
}

impl Catalog {
    /// Whether any area fixes a value for `column` of table `t` (an area-bound column).
    /// The columns of table `t` with a value domain that an area fixes (project id and
    /// name, network, municipality…), in the order of its filters.
    pub fn area_filter_columns(&self, t: usize) -> Vec<String> {
        self.tables[t]
            .filters
            .iter()
            .map(|f| f.column().to_string())
            .filter(|c| self.area_bound(t, c))
            .collect()
    }

    /// The metric SRID most of the pack's areas use (the first of the most used ones).
    pub fn common_metric_srid(&self) -> Option<i32> {
        let mut counts: BTreeMap<i32, (usize, usize)> = BTreeMap::new();
        for (i, a) in self.areas.iter().enumerate() {
            let e = counts.entry(a.metric_srid).or_insert((0, i));
            e.0 += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(_, (n, first))| (*n, std::cmp::Reverse(*first)))
            .map(|(s, _)| s)
    }

    pub fn area_bound(&self, t: usize, column: &str) -> bool {
        self.area_bound
            .get(t)
            .is_some_and(|cols| cols.iter().any(|c| c == column))
    }
}

fn stem(name: &str) -> String {
    let s: String = name
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| p.chars().next().unwrap_or('t'))
        .collect();
    if s.is_empty() {
        "t".into()
    } else {
        s
    }
}

impl Catalog {
    pub fn new(pack: &SchemaPack) -> Catalog {
        let data = pack.data();
        let mut domains: BTreeMap<String, Filterable> = BTreeMap::new();
        for d in &data.value_domains {
            let f = match d {
                ValueDomain::Range {
                    column,
                    min,
                    max,
                    integer,
                    ..
                } => Filterable::Range {
                    column: column.clone(),
                    min: *min,
                    max: *max,
                    integer: *integer,
                },
                ValueDomain::Enum { column, values } => Filterable::Enum {
                    column: column.clone(),
                    values: values.clone(),
                },
                ValueDomain::Dates { column, .. } => {
                    let (from, to) = d.days().expect("packs check their dates at load");
                    Filterable::Dates {
                        column: column.clone(),
                        from,
                        to,
                    }
                }
            };
            domains.insert(d.column().to_string(), f);
        }
        // Columns of key joins are identifiers, never measures.
        let key_columns: BTreeSet<(String, String)> = data
            .joins
            .iter()
            .filter(|j| j.kind == JoinKind::Key)
            .flat_map(|j| {
                j.left_columns
                    .iter()
                    .map(|c| (j.left.clone(), c.clone()))
                    .chain(j.right_columns.iter().map(|c| (j.right.clone(), c.clone())))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut tables = Vec::new();
        for (schema, table) in pack.tables() {
            let key = format!("{}.{}", schema.name, table.name);
            let fills = data
                .sample_data
                .as_ref()
                .and_then(|sd| sd.tables.iter().find(|f| f.table == key));
            let info = pack
                .table(&schema.name, &table.name)
                .expect("pack tables resolve");
            let mut geoms = Vec::new();
            let mut raster = None;
            let mut numeric = Vec::new();
            let mut filters = Vec::new();
            let mut groupable = Vec::new();
            for (col, ty) in &info.columns {
                match ty {
                    SqlType::Geometry(g) => {
                        // The declared subtype, `polygonz` of `geometry(PolygonZ,4326)`.
                        let sub = table
                            .columns
                            .iter()
                            .find(|c| c.name == *col)
                            .map(|c| {
                                let t = c.sql_type.as_str().to_ascii_lowercase();
                                t.split(['(', ',']).nth(1).unwrap_or("").trim().to_string()
                            })
                            .unwrap_or_default();
                        geoms.push(GeomCol {
                            name: col.clone(),
                            kind: g.kind,
                            z: sub.ends_with('z') || sub.ends_with("zm"),
                            multi: sub.is_empty()
                                || sub.starts_with("multi")
                                || sub.starts_with("geometry"),
                        })
                    }
                    SqlType::Raster => raster = Some(col.clone()),
                    _ if info.role(col) == Some(ColumnRole::Measure) => numeric.push(col.clone()),
                    _ => {}
                }
                if let Some(d) = domains.get(&format!("{key}.{col}")) {
                    let mut d = d.clone();
                    match &mut d {
                        Filterable::Range { column, .. }
                        | Filterable::Enum { column, .. }
                        | Filterable::Dates { column, .. } => *column = col.clone(),
                    }
                    // Grouping needs at least two values to tell apart.
                    // A place's code groups as its name does: the name says it.
                    let place_code =
                        info.role(col) == Some(ColumnRole::Code) && info.area_bound.contains(col);
                    if let Filterable::Enum { values, .. } = &d {
                        if values.len() >= 2 && values.iter().all(|v| v.is_string()) && !place_code
                        {
                            groupable.push(col.clone());
                        }
                    }
                    // A range over identifiers (bus numbers…) is no filter a person sets;
                    // small coded ranges (a level of detail 0–2) are.
                    let is_key = info.primary_key.contains(col)
                        || key_columns.contains(&(key.clone(), col.clone()))
                        || table.unique.iter().any(|u| u.contains(col));
                    let identifier_range = matches!(&d, Filterable::Range { min, max, .. }
                        if is_key && max - min > 5.0);
                    // A column the data holds one value in (every grid bus is in the
                    // baseline scenario) filters nothing or everything.
                    let constant = fills.is_some_and(|f| {
                        f.columns.iter().any(|c| {
                            c.names.contains(col)
                                && matches!(c.draw, crate::pack::ValueSource::Value(_))
                                && c.null_share == 0.0
                        })
                    });
                    // The version column is pinned once per query (see `versions`), never
                    // a free filter: `scenario_id <> 'heat_pumps'` still repeats each row.
                    let version = table.version_column.as_deref() == Some(col.as_str());
                    if !identifier_range && !constant && !version {
                        filters.push(d);
                    }
                }
            }
            let label = info.label.clone();
            let few_rows = data.sample_data.as_ref().is_some_and(|sd| {
                sd.tables
                    .iter()
                    .any(|f| f.table == key && matches!(f.rows, crate::pack::RowSource::PerArea(_)))
            });
            let dependent: Vec<(String, String)> = fills
                .map(|f| {
                    f.columns
                        .iter()
                        .flat_map(|c| match &c.draw {
                            crate::pack::ValueSource::By { column, .. } => c
                                .names
                                .iter()
                                .map(|n| (column.clone(), n.clone()))
                                .collect::<Vec<_>>(),
                            _ => Vec::new(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let levels = table.unique.iter().find_map(|u| match u.as_slice() {
                [entity, level] => filters
                    .iter()
                    .any(|f| {
                        matches!(f, Filterable::Range { column, integer: true, min, max, .. }
                            if column == level && max - min <= 5.0)
                    })
                    .then(|| (entity.clone(), level.clone())),
                _ => None,
            });
            let version = table.version_column.as_ref().map(|c| {
                let values = match domains.get(&format!("{key}.{c}")) {
                    Some(Filterable::Enum { values, .. }) => values.clone(),
                    _ => Vec::new(),
                };
                (c.clone(), values)
            });
            tables.push(TableCat {
                version,
                dependent,
                levels,
                key,
                schema: schema.name.clone(),
                name: table.name.clone(),
                stem: stem(&table.name),
                geoms,
                raster,
                units: table
                    .columns
                    .iter()
                    .filter_map(|c| Some((c.name.clone(), c.unit.clone()?)))
                    .collect(),
                numeric,
                // Cells of a breakdown (men aged 25 to 29) are drawn as rarely: the
                // headline figures (total population, housing units) are what people ask.
                obscure: info
                    .obscure
                    .iter()
                    .chain(&info.breakdown)
                    .cloned()
                    .collect(),
                occasional: info
                    .columns
                    .iter()
                    .filter(|(c, _)| {
                        matches!(info.role(c), Some(ColumnRole::Code | ColumnRole::Timestamp))
                    })
                    .map(|(c, _)| c.clone())
                    .collect(),
                additive: info.additive.clone(),
                entity: info.entity.clone(),
                few_rows,
                filters,
                groupable,
                label,
                primary_key: info.primary_key.clone(),
            });
        }
        let index_of = |k: &str| tables.iter().position(|t| t.key == k);
        let edges = data
            .joins
            .iter()
            .enumerate()
            .filter_map(|(i, j)| {
                let covers_key = |table: &str, cols: &[String]| {
                    let (s, t) = table.split_once('.')?;
                    let (_, tb) = pack.tables().find(|(x, y)| x.name == s && y.name == t)?;
                    Some(
                        std::iter::once(&tb.primary_key)
                            .chain(tb.unique.iter())
                            .any(|k| !k.is_empty() && k.iter().all(|c| cols.contains(c))),
                    )
                };
                // A side whose join columns, with its version column (one per query)
                // and the columns its area fixes (the joined row lies in one area),
                // cover a key is one row per partner: a building's properties in the
                // query's scenario, not a fan-out.
                let one_in_version = |table: &str, cols: &[String]| {
                    let (s, t) = table.split_once('.')?;
                    let info = pack.table(s, t)?;
                    let mut cols = cols.to_vec();
                    cols.extend(info.version.iter().cloned());
                    cols.extend(info.area_bound.iter().cloned());
                    covers_key(table, &cols)
                };
                use crate::pack::Cardinality as C;
                // The generator reads one version per query: the edge's cardinality
                // within one version is the one that counts.
                let (left_many, right_many) =
                    match (j.kind, j.cardinality_in_version.or(j.cardinality)) {
                        (_, Some(C::OneToOne)) => (false, false),
                        (_, Some(C::ManyToOne)) => (true, false),
                        (_, Some(C::OneToMany)) => (false, true),
                        (_, Some(C::ManyToMany)) => (true, true),
                        // Spatial joins the pack does not qualify: either side may match many.
                        (JoinKind::Spatial, None) => (true, true),
                        // Key joins: a side whose columns cover one of its keys is the "one".
                        (JoinKind::Key, None) => (
                            !covers_key(&j.left, &j.left_columns).unwrap_or(false),
                            !covers_key(&j.right, &j.right_columns).unwrap_or(false),
                        ),
                    };
                let (left_many, right_many) = if j.kind == JoinKind::Key
                    && j.cardinality_in_version.or(j.cardinality) != Some(C::ManyToMany)
                {
                    (
                        left_many && !one_in_version(&j.left, &j.left_columns).unwrap_or(false),
                        right_many && !one_in_version(&j.right, &j.right_columns).unwrap_or(false),
                    )
                } else {
                    (left_many, right_many)
                };
                Some(EdgeCat {
                    left_within_right: j.left_within_right,
                    right_within_left: j.right_within_left,
                    left_many,
                    right_many,
                    index: i,
                    spatial: j.kind == JoinKind::Spatial,
                    left: index_of(&j.left)?,
                    left_columns: j.left_columns.clone(),
                    right: index_of(&j.right)?,
                    right_columns: j.right_columns.clone(),
                    predicates: j.predicates.clone(),
                })
            })
            .collect();
        let quantities = domains
            .iter()
            .filter(|(k, _)| k.starts_with('@'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let functions = data
            .functions
            .iter()
            .map(|f| (f.name.to_lowercase(), f.category))
            .collect();
        let function_names = data
            .functions
            .iter()
            .map(|f| (f.name.to_lowercase(), f.name.clone()))
            .collect();
        let aggregates = data
            .functions
            .iter()
            .filter(|f| {
                pack.function(&f.name).is_some_and(|(_, sigs)| {
                    sigs.iter()
                        .any(|s| s.kind == crate::pack::FnKind::Aggregate)
                })
            })
            .map(|f| f.name.to_lowercase())
            .collect();
        let shapes = data
            .functions
            .iter()
            .filter(|f| {
                pack.function(&f.name).is_some_and(|(_, sigs)| {
                    let plain: Vec<_> = sigs
                        .iter()
                        .filter(|s| s.kind == crate::pack::FnKind::Plain)
                        .collect();
                    !plain.is_empty()
                        && plain
                            .iter()
                            .all(|s| matches!(s.returns, SqlType::Geometry(_) | SqlType::Geography))
                })
            })
            .map(|f| f.name.to_lowercase())
            .collect();
        let area_bound: Vec<Vec<String>> = tables
            .iter()
            .map(|t| {
                pack.table(&t.schema, &t.name)
                    .expect("pack tables resolve")
                    .area_bound
                    .clone()
            })
            .collect();
        Catalog {
            function_names,
            aggregates,
            shapes,
            tables,
            edges,
            quantities,
            functions,
            srid: data.default_srid.unwrap_or(4326),
            area_bound,
            areas: data.areas.clone(),
        }
    }

    /// Edges touching table `t`, with the other end.
    pub fn neighbours(&self, t: usize) -> impl Iterator<Item = (&EdgeCat, usize)> {
        self.edges.iter().filter_map(move |e| {
            if e.left == t {
                Some((e, e.right))
            } else if e.right == t {
                Some((e, e.left))
            } else {
                None
            }
        })
    }
}

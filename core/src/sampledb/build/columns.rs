//! Drawing the columns a row source leaves open: the pack's value sources, else value
//! domains, else a default for the column's type.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::super::raster;
use super::super::values::{self, ColKind, Val};
use super::{err, stream, Builder, Footprint, Row};
use crate::pack::{ColumnFill, ValueDomain, ValueSource};
use crate::sampledb::SampleDbError;

impl Builder<'_> {
    /// Draw every column not decided by the row source or the area.
    pub(super) fn draw_columns(
        &mut self,
        tix: usize,
        fills: &[ColumnFill],
    ) -> Result<(), SampleDbError> {
        let name = self.tables[tix].table.clone();
        let ncols = self.tables[tix].columns.len();
        // Explicit fills, in the pack's order; then value domains and type defaults.
        let mut plan: Vec<(usize, Option<&ColumnFill>)> = Vec::new();
        let mut listed = vec![false; ncols];
        for f in fills {
            for c in &f.names {
                let i = self.tables[tix]
                    .col(c)
                    .ok_or_else(|| err(&name, format!("has no column {c}")))?;
                listed[i] = true;
                plan.push((i, Some(f)));
            }
        }
        for (i, l) in listed.iter().enumerate() {
            if !l {
                plan.push((i, None));
            }
        }
        for (i, fill) in plan {
            let column = self.tables[tix].columns[i].clone();
            let kind = self.tables[tix].kinds[i];
            for r in 0..self.tables[tix].rows.len() {
                let row = &self.tables[tix].rows[r];
                // Decided by the row source (keys, geometry, levels) or by the area.
                if row.set[i] {
                    continue;
                }
                let (key, ordinal) = match (fill, row.entity) {
                    (Some(f), Some((t, e))) if f.per_entity => ((t as u64) << 40 | e, e),
                    _ => (r as u64, r as u64),
                };
                let mut rng = stream(self.seed, &format!("{name}.{column}"), key);
                let v = self
                    .draw(tix, r, i, kind, fill, ordinal, &mut rng)
                    .map_err(|m| err(&name, format!("column {column}: {m}")))?;
                let row = &mut self.tables[tix].rows[r];
                row.vals[i] = v;
                row.set[i] = true;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn draw(
        &self,
        tix: usize,
        r: usize,
        i: usize,
        kind: ColKind,
        fill: Option<&ColumnFill>,
        ordinal: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Val, String> {
        let t = &self.tables[tix];
        let row = &t.rows[r];
        let column = &t.columns[i];
        let Some(fill) = fill else {
            return Ok(self.default_value(tix, r, i, kind, ordinal, rng));
        };
        if fill.null_share > 0.0 && rng.random::<f64>() < fill.null_share {
            return Ok(Val::Null);
        }
        let other = |c: &str| -> Result<&Val, String> {
            let j = t
                .col(c)
                .ok_or_else(|| format!("refers to unknown column {c}"))?;
            Ok(&row.vals[j])
        };
        Ok(match &fill.draw {
            ValueSource::Value(v) => values::from_json(v, kind)?,
            ValueSource::Choice {
                values: vs,
                weights,
            } => values::from_json(values::pick(vs, weights.as_deref(), ordinal, rng), kind)?,
            ValueSource::Uniform { min, max, decimals } => {
                let x = values::round_to(rng.random_range(*min..=*max), *decimals);
                number(x, kind)
            }
            ValueSource::ShareOf {
                column: c,
                min,
                max,
            } => match other(c)?.number() {
                Some(base) => number((base * rng.random_range(*min..=*max)).round(), kind),
                None => Val::Null,
            },
            ValueSource::By {
                column: c,
                map,
                otherwise,
            } => {
                let key = other(c)?.text().unwrap_or_default();
                let key = map
                    .keys()
                    .find(|k| {
                        **k == key
                            || k.parse::<f64>()
                                .ok()
                                .zip(key.parse::<f64>().ok())
                                .is_some_and(|(a, b)| a == b)
                    })
                    .cloned();
                match key.and_then(|k| map.get(&k)) {
                    Some(choices) if !choices.is_empty() => {
                        values::from_json(&choices[rng.random_range(0..choices.len())], kind)?
                    }
                    _ if !otherwise.is_empty() => {
                        values::from_json(&otherwise[rng.random_range(0..otherwise.len())], kind)?
                    }
                    _ => self.default_value(tix, r, i, kind, ordinal, rng),
                }
            }
            ValueSource::Format(f) => {
                let area = &self.areas[row.area];
                let n = if fill.per_entity { row.entity_n } else { row.n };
                let text = values::fill_format(f, |p| match p {
                    "n" => Some(n.to_string()),
                    "area" => Some(area.id.clone()),
                    c => t.col(c).and_then(|j| row.vals[j].text()),
                })?;
                values::from_json(&serde_json::Value::String(text), kind)?
            }
            ValueSource::Sequence { start, group_by } => {
                let group = match group_by {
                    Some(g) => other(g)?.text().unwrap_or_default(),
                    None => String::new(),
                };
                let key = format!("{}.{column}/{group}", t.table);
                let mut seqs = self.sequences.borrow_mut();
                let next = seqs.entry(key).or_insert(*start);
                let v = *next;
                *next += 1;
                number(v as f64, kind)
            }
            ValueSource::Timestamp { from, to } => {
                let a =
                    crate::calendar::parse_day(from).ok_or_else(|| format!("bad date {from:?}"))?;
                let b = crate::calendar::parse_day(to).ok_or_else(|| format!("bad date {to:?}"))?;
                Val::Ts(values::timestamp(a, b, rng))
            }
            ValueSource::EntityHeight => {
                let f = self
                    .footprint(row)
                    .ok_or("the row stands for no footprint")?;
                Val::Float(f.height)
            }
            ValueSource::ZonalMean { raster: rt } => {
                let f = self
                    .footprint(row)
                    .ok_or("the row stands for no footprint")?;
                let ri = self
                    .tables
                    .iter()
                    .position(|x| x.table == *rt)
                    .ok_or_else(|| format!("{rt} is not filled before"))?;
                let layer = self.extra[ri]
                    .raster
                    .as_ref()
                    .ok_or_else(|| format!("{rt} is not a single-surface raster table"))?;
                match layer.grids.get(&f.area) {
                    Some((grid, heights)) => {
                        let terrain = &self.terrains[f.area];
                        match raster::zonal_mean(grid, &f.parts, |c, r| {
                            raster::surface_value(layer.surface, grid, terrain, heights, c, r)
                        }) {
                            Some(m) => Val::Float(values::round_to(m, 3)),
                            None => Val::Null,
                        }
                    }
                    None => Val::Null,
                }
            }
            ValueSource::Derived => Val::Null,
        })
    }

    fn footprint(&self, row: &Row) -> Option<&Footprint> {
        let (t, e) = row.entity?;
        self.extra.get(t)?.footprints.get(e as usize)
    }

    fn default_value(
        &self,
        tix: usize,
        r: usize,
        i: usize,
        kind: ColKind,
        ordinal: u64,
        rng: &mut ChaCha8Rng,
    ) -> Val {
        let t = &self.tables[tix];
        let column = t.columns[i].clone();
        let table = t.table.clone();
        if kind == ColKind::Serial {
            return Val::Int(r as i64 + 1);
        }
        match self.domain(&table, &column) {
            Some(ValueDomain::Enum { values: vs, .. }) => {
                if let Ok(v) = values::from_json(values::pick(vs, None, ordinal, rng), kind) {
                    return v;
                }
            }
            Some(d @ ValueDomain::Dates { .. }) => {
                if let Some((a, b)) = d.days() {
                    return Val::Ts(values::timestamp(a, b, rng));
                }
            }
            Some(ValueDomain::Range {
                min, max, integer, ..
            }) => {
                let x = rng.random_range(*min..=*max);
                return number(
                    if *integer {
                        x.round()
                    } else {
                        values::round_to(x, 2)
                    },
                    kind,
                );
            }
            None => {}
        }
        match kind {
            ColKind::Integer => Val::Int(rng.random_range(0..=100)),
            ColKind::Float => Val::Float(values::round_to(rng.random::<f64>(), 3)),
            ColKind::Text => Val::Text(format!("{} {}", column.replace('_', " "), t.rows[r].n)),
            ColKind::Bool => Val::Bool(rng.random()),
            ColKind::Timestamp => Val::Ts(values::timestamp(19_358, 20_088, rng)),
            _ => Val::Null,
        }
    }
}

/// A number as a value of a column of this kind.
pub(super) fn number(x: f64, kind: ColKind) -> Val {
    match kind {
        ColKind::Integer | ColKind::Serial => Val::Int(x.round() as i64),
        ColKind::Text => Val::Text(x.to_string()),
        _ => Val::Float(x),
    }
}

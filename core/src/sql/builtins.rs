//! PostgreSQL's own (non-spatial) functions that queries over a pack commonly use.
//! These are dialect facts, not pack facts: a pack only adds its spatial catalogue.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::pack::{FnKind, ResolvedSignature};
use crate::sql::types::SqlType;

/// Functions whose result type depends on their arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polymorphic {
    /// count(*) / count(x) -> bigint.
    Count,
    /// min / max: same type as the argument.
    MinMax,
    /// sum: bigint for int, numeric for bigint/numeric, float for float.
    Sum,
    /// avg: numeric for exact types, float for float.
    Avg,
    /// coalesce / greatest / least / nullif: common type of the arguments.
    Common,
    /// array_agg: an array.
    ArrayAgg,
    /// concat, concat_ws, format: any arguments, text result.
    Variadic,
    /// row_number, rank, dense_rank, ntile, lag, lead, ... (window only).
    Window,
}

/// A builtin: polymorphic or with fixed overloads.
#[derive(Debug, Clone)]
pub enum Builtin {
    /// Result depends on the arguments.
    Poly(Polymorphic),
    /// Fixed overloads.
    Fixed(Vec<ResolvedSignature>),
}

/// (name, kind, overloads as `arg,arg->result`; a trailing `?` marks a defaulted argument).
const FIXED: &[(&str, FnKind, &[&str])] = &[
    (
        "round",
        FnKind::Plain,
        &[
            "float8->float8",
            "numeric->numeric",
            "numeric,int4->numeric",
        ],
    ),
    (
        "trunc",
        FnKind::Plain,
        &[
            "float8->float8",
            "numeric->numeric",
            "numeric,int4->numeric",
        ],
    ),
    (
        "abs",
        FnKind::Plain,
        &[
            "int4->int4",
            "int8->int8",
            "numeric->numeric",
            "float8->float8",
        ],
    ),
    (
        "ceil",
        FnKind::Plain,
        &["numeric->numeric", "float8->float8"],
    ),
    (
        "ceiling",
        FnKind::Plain,
        &["numeric->numeric", "float8->float8"],
    ),
    (
        "floor",
        FnKind::Plain,
        &["numeric->numeric", "float8->float8"],
    ),
    (
        "sqrt",
        FnKind::Plain,
        &["float8->float8", "numeric->numeric"],
    ),
    (
        "power",
        FnKind::Plain,
        &["float8,float8->float8", "numeric,numeric->numeric"],
    ),
    ("ln", FnKind::Plain, &["float8->float8", "numeric->numeric"]),
    (
        "log",
        FnKind::Plain,
        &[
            "float8->float8",
            "numeric->numeric",
            "numeric,numeric->numeric",
        ],
    ),
    (
        "exp",
        FnKind::Plain,
        &["float8->float8", "numeric->numeric"],
    ),
    ("pi", FnKind::Plain, &["->float8"]),
    ("degrees", FnKind::Plain, &["float8->float8"]),
    ("radians", FnKind::Plain, &["float8->float8"]),
    (
        "mod",
        FnKind::Plain,
        &[
            "int4,int4->int4",
            "int8,int8->int8",
            "numeric,numeric->numeric",
        ],
    ),
    ("random", FnKind::Plain, &["->float8"]),
    ("upper", FnKind::Plain, &["text->text"]),
    ("lower", FnKind::Plain, &["text->text"]),
    ("length", FnKind::Plain, &["text->int4"]),
    ("char_length", FnKind::Plain, &["text->int4"]),
    ("initcap", FnKind::Plain, &["text->text"]),
    ("replace", FnKind::Plain, &["text,text,text->text"]),
    ("left", FnKind::Plain, &["text,int4->text"]),
    ("right", FnKind::Plain, &["text,int4->text"]),
    ("split_part", FnKind::Plain, &["text,text,int4->text"]),
    (
        "to_char",
        FnKind::Plain,
        &[
            "timestamptz,text->text",
            "float8,text->text",
            "numeric,text->text",
            "int8,text->text",
        ],
    ),
    ("now", FnKind::Plain, &["->timestamptz"]),
    ("current_date", FnKind::Plain, &["->timestamptz"]),
    (
        "date_trunc",
        FnKind::Plain,
        &["text,timestamptz->timestamptz"],
    ),
    ("date_part", FnKind::Plain, &["text,timestamptz->float8"]),
    (
        "age",
        FnKind::Plain,
        &["timestamptz,timestamptz?->interval"],
    ),
    (
        "to_timestamp",
        FnKind::Plain,
        &["float8->timestamptz", "text,text->timestamptz"],
    ),
    ("json_array_length", FnKind::Plain, &["json->int4"]),
    ("jsonb_array_length", FnKind::Plain, &["jsonb->int4"]),
    ("json_typeof", FnKind::Plain, &["json->text"]),
    (
        "stddev",
        FnKind::Aggregate,
        &["float8->float8", "numeric->numeric"],
    ),
    (
        "stddev_samp",
        FnKind::Aggregate,
        &["float8->float8", "numeric->numeric"],
    ),
    (
        "stddev_pop",
        FnKind::Aggregate,
        &["float8->float8", "numeric->numeric"],
    ),
    (
        "variance",
        FnKind::Aggregate,
        &["float8->float8", "numeric->numeric"],
    ),
    ("string_agg", FnKind::Aggregate, &["text,text->text"]),
    ("bool_and", FnKind::Aggregate, &["bool->bool"]),
    ("bool_or", FnKind::Aggregate, &["bool->bool"]),
    ("every", FnKind::Aggregate, &["bool->bool"]),
    ("corr", FnKind::Aggregate, &["float8,float8->float8"]),
    ("percentile_cont", FnKind::Aggregate, &["float8->float8"]),
    ("percentile_disc", FnKind::Aggregate, &["float8->float8"]),
    ("json_agg", FnKind::Aggregate, &["text->json"]),
    ("ntile", FnKind::Window, &["int4->int4"]),
    ("percent_rank", FnKind::Window, &["->float8"]),
    ("cume_dist", FnKind::Window, &["->float8"]),
];

fn parse_signature(spec: &str, kind: FnKind) -> ResolvedSignature {
    let (args, ret) = spec.split_once("->").expect("builtin signature has ->");
    let mut parsed = Vec::new();
    let mut required = 0;
    for a in args.split(',').filter(|a| !a.is_empty()) {
        let optional = a.ends_with('?');
        let name = a.trim_end_matches('?');
        parsed.push(SqlType::from_type_name(name).expect("builtin argument type parses"));
        if !optional {
            required += 1;
        }
    }
    ResolvedSignature {
        args: parsed,
        required,
        returns: SqlType::from_type_name(ret).expect("builtin result type parses"),
        kind,
        result_geometry: None,
        result_srid: None,
    }
}

fn table() -> &'static HashMap<&'static str, Builtin> {
    static TABLE: OnceLock<HashMap<&'static str, Builtin>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = HashMap::new();
        for (name, kind, sigs) in FIXED {
            m.insert(
                *name,
                Builtin::Fixed(sigs.iter().map(|s| parse_signature(s, *kind)).collect()),
            );
        }
        m.insert("count", Builtin::Poly(Polymorphic::Count));
        for name in ["min", "max"] {
            m.insert(name, Builtin::Poly(Polymorphic::MinMax));
        }
        m.insert("sum", Builtin::Poly(Polymorphic::Sum));
        m.insert("avg", Builtin::Poly(Polymorphic::Avg));
        for name in ["coalesce", "greatest", "least", "nullif"] {
            m.insert(name, Builtin::Poly(Polymorphic::Common));
        }
        m.insert("array_agg", Builtin::Poly(Polymorphic::ArrayAgg));
        for name in ["concat", "concat_ws", "format"] {
            m.insert(name, Builtin::Poly(Polymorphic::Variadic));
        }
        for name in [
            "row_number",
            "rank",
            "dense_rank",
            "lag",
            "lead",
            "first_value",
            "last_value",
        ] {
            m.insert(name, Builtin::Poly(Polymorphic::Window));
        }
        m
    })
}

/// Look a builtin up by lower-case name.
pub fn lookup(name: &str) -> Option<&'static Builtin> {
    table().get(name)
}

/// Whether the builtin `name` (lower case) is an aggregate.
pub fn is_aggregate(name: &str) -> bool {
    match lookup(name) {
        Some(Builtin::Poly(p)) => poly_kind(*p) == FnKind::Aggregate,
        Some(Builtin::Fixed(sigs)) => sigs.iter().any(|s| s.kind == FnKind::Aggregate),
        None => false,
    }
}

/// Whether a polymorphic builtin is an aggregate.
pub fn poly_kind(p: Polymorphic) -> FnKind {
    match p {
        Polymorphic::Count
        | Polymorphic::MinMax
        | Polymorphic::Sum
        | Polymorphic::Avg
        | Polymorphic::ArrayAgg => FnKind::Aggregate,
        Polymorphic::Common | Polymorphic::Variadic => FnKind::Plain,
        Polymorphic::Window => FnKind::Window,
    }
}

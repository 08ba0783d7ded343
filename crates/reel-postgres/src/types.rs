//! How PostgreSQL types become Arrow types.
//!
//! | PostgreSQL | Arrow | notes |
//! | --- | --- | --- |
//! | `boolean` | Boolean | |
//! | `smallint`, `integer`, `bigint` | Int16, Int32, Int64 | |
//! | `oid` | Int64 | unsigned 32-bit, so it needs 64 bits |
//! | `real`, `double precision` | Float32, Float64 | NaN and infinities kept |
//! | `numeric(p, s)`, p <= 38 | Decimal128(p, s) | exact |
//! | `numeric(p, s)`, p > 38 | Decimal128(38, min(s, 38)) | values needing more digits are quarantined |
//! | `numeric` (no precision) | Decimal128(38, S) | S = [`DEFAULT_NUMERIC_SCALE`] (`--numeric-scale`); more decimals are rounded half away from zero and counted, NaN, infinities and values above 10^(38-S) are quarantined |
//! | `date` | Date32 | `infinity` quarantined |
//! | `timestamp` | Timestamp(µs) | no zone, as stored; `infinity` quarantined |
//! | `timestamptz` | Timestamp(µs, "UTC") | the instant, in UTC |
//! | `text`, `varchar(n)`, `char(n)`, `name`, `citext`, enums | Utf8 | `char(n)` keeps its padding |
//! | `json`, `jsonb` | Utf8 | the JSON text |
//! | `uuid` | Utf8 | `8-4-4-4-12` lower-case hex |
//! | `bytea` | Binary | |
//! | a domain | its base type | |
//!
//! Anything else (arrays, `interval`, `time`, geometric and range types, composites) is
//! refused up front with the column's name and a cast to write in a query.
use arrow::datatypes::{DataType, TimeUnit};
use serde::Serialize;

/// The scale given to `numeric` columns declared without one (the rule Spark's JDBC reader
/// uses: 38 digits, 18 of them after the point).
pub const DEFAULT_NUMERIC_SCALE: i8 = 18;

/// Options of the type mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingOptions {
    /// Scale of `numeric` without a declared precision (0..=38).
    pub numeric_scale: i8,
}

impl Default for MappingOptions {
    fn default() -> Self {
        MappingOptions {
            numeric_scale: DEFAULT_NUMERIC_SCALE,
        }
    }
}

/// How a column's binary COPY values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PgKind {
    /// `boolean`.
    Bool,
    /// `smallint`.
    Int2,
    /// `integer`.
    Int4,
    /// `bigint`.
    Int8,
    /// `oid`.
    Oid,
    /// `real`.
    Float4,
    /// `double precision`.
    Float8,
    /// `numeric`, read as Decimal128(precision, scale).
    Numeric {
        /// Arrow precision.
        precision: u8,
        /// Arrow scale.
        scale: i8,
        /// Whether the column declared its precision (values then fit without rounding).
        declared: bool,
    },
    /// Text of any kind (text, varchar, char, name, citext, enum, json).
    Text,
    /// `jsonb`: a version byte, then the JSON text.
    Jsonb,
    /// `uuid`.
    Uuid,
    /// `bytea`.
    Bytea,
    /// `date`.
    Date,
    /// `timestamp without time zone`.
    Timestamp,
    /// `timestamp with time zone`.
    Timestamptz,
}

impl PgKind {
    /// The Arrow type values of this kind are read into.
    pub fn arrow_type(self) -> DataType {
        match self {
            PgKind::Bool => DataType::Boolean,
            PgKind::Int2 => DataType::Int16,
            PgKind::Int4 => DataType::Int32,
            PgKind::Int8 | PgKind::Oid => DataType::Int64,
            PgKind::Float4 => DataType::Float32,
            PgKind::Float8 => DataType::Float64,
            PgKind::Numeric { precision, scale, .. } => DataType::Decimal128(precision, scale),
            PgKind::Text | PgKind::Jsonb | PgKind::Uuid => DataType::Utf8,
            PgKind::Bytea => DataType::Binary,
            PgKind::Date => DataType::Date32,
            PgKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            PgKind::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }

    /// Whether a column of this kind can be an incremental watermark.
    pub fn orderable_watermark(self) -> bool {
        matches!(
            self,
            PgKind::Int2 | PgKind::Int4 | PgKind::Int8 | PgKind::Numeric { .. } | PgKind::Date | PgKind::Timestamp | PgKind::Timestamptz
        )
    }
}

/// One column of a source, as PostgreSQL describes it and as the lake will store it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnSpec {
    /// The column's name.
    pub name: String,
    /// Its PostgreSQL type, as `format_type` prints it (`numeric(5,2)`).
    pub pg_type: String,
    /// How its values are read.
    pub kind: PgKind,
    /// Whether it may be NULL (`NOT NULL` columns of a table are not; query columns always may).
    pub nullable: bool,
}

impl ColumnSpec {
    /// The Arrow field of the column.
    pub fn field(&self) -> arrow::datatypes::Field {
        arrow::datatypes::Field::new(&self.name, self.kind.arrow_type(), self.nullable)
    }
}

// Built-in type OIDs (pg_type.dat); they never change.
pub(crate) const BOOL: u32 = 16;
pub(crate) const BYTEA: u32 = 17;
pub(crate) const NAME: u32 = 19;
pub(crate) const INT8: u32 = 20;
pub(crate) const INT2: u32 = 21;
pub(crate) const INT4: u32 = 23;
pub(crate) const TEXT: u32 = 25;
pub(crate) const OID: u32 = 26;
pub(crate) const JSON: u32 = 114;
pub(crate) const XML: u32 = 142;
pub(crate) const FLOAT4: u32 = 700;
pub(crate) const FLOAT8: u32 = 701;
pub(crate) const BPCHAR: u32 = 1042;
pub(crate) const VARCHAR: u32 = 1043;
pub(crate) const DATE: u32 = 1082;
pub(crate) const TIMESTAMP: u32 = 1114;
pub(crate) const TIMESTAMPTZ: u32 = 1184;
pub(crate) const NUMERIC: u32 = 1700;
pub(crate) const UUID: u32 = 2950;
pub(crate) const JSONB: u32 = 3802;

/// What `pg_type` says about a type that is not built in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeRow {
    /// `typname`.
    pub name: String,
    /// `typtype`: b base, d domain, e enum, c composite, r range, ...
    pub typtype: char,
    /// `typbasetype` of a domain.
    pub base: u32,
    /// `typtypmod` of a domain.
    pub base_typmod: i32,
}

/// The kind of a built-in type, `None` if it is not one we map.
pub(crate) fn builtin_kind(oid: u32, typmod: i32, opts: MappingOptions) -> Option<PgKind> {
    Some(match oid {
        BOOL => PgKind::Bool,
        INT2 => PgKind::Int2,
        INT4 => PgKind::Int4,
        INT8 => PgKind::Int8,
        OID => PgKind::Oid,
        FLOAT4 => PgKind::Float4,
        FLOAT8 => PgKind::Float8,
        NUMERIC => numeric_kind(typmod, opts),
        TEXT | VARCHAR | BPCHAR | NAME | JSON | XML => PgKind::Text,
        JSONB => PgKind::Jsonb,
        UUID => PgKind::Uuid,
        BYTEA => PgKind::Bytea,
        DATE => PgKind::Date,
        TIMESTAMP => PgKind::Timestamp,
        TIMESTAMPTZ => PgKind::Timestamptz,
        _ => return None,
    })
}

/// The Decimal128 of a `numeric` typmod (see the module table).
///
/// The typmod is `((precision << 16) | (scale & 0x7ff)) + 4`, the scale an 11-bit signed
/// number since PostgreSQL 15 (it may be negative, or above the precision); -1 means no
/// precision was declared.
pub(crate) fn numeric_kind(typmod: i32, opts: MappingOptions) -> PgKind {
    if typmod < 4 {
        return PgKind::Numeric {
            precision: 38,
            scale: opts.numeric_scale,
            declared: false,
        };
    }
    let t = typmod - 4;
    let precision = (t >> 16) & 0xffff;
    let scale = ((t & 0x7ff) ^ 1024) - 1024;
    // numeric(2, -3) holds multiples of 1000 below 100 000: 5 integer digits, scale 0.
    // numeric(3, 5) holds values below 0.001: precision 5 at scale 5.
    let (p, s) = if scale < 0 {
        (precision - scale, 0)
    } else {
        (precision.max(scale), scale)
    };
    let s = s.min(38);
    PgKind::Numeric {
        precision: p.clamp(1, 38) as u8,
        scale: s as i8,
        declared: p <= 38,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typmod(p: i32, s: i32) -> i32 {
        ((p << 16) | (s & 0x7ff)) + 4
    }

    #[test]
    fn numeric_typmods_become_decimals() {
        let o = MappingOptions::default();
        let k = |p, s| numeric_kind(typmod(p, s), o);
        assert_eq!(k(5, 2), PgKind::Numeric { precision: 5, scale: 2, declared: true });
        assert_eq!(k(38, 0), PgKind::Numeric { precision: 38, scale: 0, declared: true });
        assert_eq!(k(50, 10), PgKind::Numeric { precision: 38, scale: 10, declared: false });
        assert_eq!(k(2, -3), PgKind::Numeric { precision: 5, scale: 0, declared: true });
        assert_eq!(k(3, 5), PgKind::Numeric { precision: 5, scale: 5, declared: true });
        assert_eq!(numeric_kind(-1, o), PgKind::Numeric { precision: 38, scale: 18, declared: false });
        let o6 = MappingOptions { numeric_scale: 6 };
        assert_eq!(numeric_kind(-1, o6).arrow_type(), DataType::Decimal128(38, 6));
    }

    #[test]
    fn builtins_map_as_documented() {
        let o = MappingOptions::default();
        assert_eq!(builtin_kind(TIMESTAMPTZ, -1, o).unwrap().arrow_type(), DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
        assert_eq!(builtin_kind(TIMESTAMP, -1, o).unwrap().arrow_type(), DataType::Timestamp(TimeUnit::Microsecond, None));
        assert_eq!(builtin_kind(UUID, -1, o).unwrap().arrow_type(), DataType::Utf8);
        assert_eq!(builtin_kind(OID, -1, o).unwrap().arrow_type(), DataType::Int64);
        assert_eq!(builtin_kind(1186, -1, o), None, "interval is refused");
        assert!(builtin_kind(DATE, -1, o).unwrap().orderable_watermark());
        assert!(!builtin_kind(TEXT, -1, o).unwrap().orderable_watermark());
    }
}

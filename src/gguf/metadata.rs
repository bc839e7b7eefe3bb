//! GGUF metadata values and typed access to them.

use std::collections::HashMap;
use std::fmt;

use super::error::{GgufError, Result};

/// GGUF value type ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl ValueType {
    pub fn from_id(id: u32) -> Option<ValueType> {
        use ValueType::*;
        Some(match id {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        use ValueType::*;
        match self {
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            F32 => "f32",
            Bool => "bool",
            String => "string",
            Array => "array",
            U64 => "u64",
            I64 => "i64",
            F64 => "f64",
        }
    }

    /// Bytes one value takes in the file; strings take at least their 8-byte length.
    pub fn min_size(self) -> u64 {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 | String => 8,
            Array => 12,
        }
    }
}

/// An array value; GGUF arrays hold one scalar type (arrays of arrays are rejected).
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    String(Vec<String>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Array),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Array {
    pub fn len(&self) -> usize {
        match self {
            Array::U8(v) => v.len(),
            Array::I8(v) => v.len(),
            Array::U16(v) => v.len(),
            Array::I16(v) => v.len(),
            Array::U32(v) => v.len(),
            Array::I32(v) => v.len(),
            Array::F32(v) => v.len(),
            Array::Bool(v) => v.len(),
            Array::String(v) => v.len(),
            Array::U64(v) => v.len(),
            Array::I64(v) => v.len(),
            Array::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn element_type(&self) -> ValueType {
        match self {
            Array::U8(_) => ValueType::U8,
            Array::I8(_) => ValueType::I8,
            Array::U16(_) => ValueType::U16,
            Array::I16(_) => ValueType::I16,
            Array::U32(_) => ValueType::U32,
            Array::I32(_) => ValueType::I32,
            Array::F32(_) => ValueType::F32,
            Array::Bool(_) => ValueType::Bool,
            Array::String(_) => ValueType::String,
            Array::U64(_) => ValueType::U64,
            Array::I64(_) => ValueType::I64,
            Array::F64(_) => ValueType::F64,
        }
    }

    /// Element `i` as a scalar value.
    pub fn get(&self, i: usize) -> Option<Value> {
        Some(match self {
            Array::U8(v) => Value::U8(*v.get(i)?),
            Array::I8(v) => Value::I8(*v.get(i)?),
            Array::U16(v) => Value::U16(*v.get(i)?),
            Array::I16(v) => Value::I16(*v.get(i)?),
            Array::U32(v) => Value::U32(*v.get(i)?),
            Array::I32(v) => Value::I32(*v.get(i)?),
            Array::F32(v) => Value::F32(*v.get(i)?),
            Array::Bool(v) => Value::Bool(*v.get(i)?),
            Array::String(v) => Value::String(v.get(i)?.clone()),
            Array::U64(v) => Value::U64(*v.get(i)?),
            Array::I64(v) => Value::I64(*v.get(i)?),
            Array::F64(v) => Value::F64(*v.get(i)?),
        })
    }
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// The type as error messages name it: `u32`, `string`, `array of string`.
    pub fn type_name(&self) -> String {
        match self {
            Value::Array(a) => format!("array of {}", a.element_type().name()),
            v => v.value_type().name().to_string(),
        }
    }

    /// The value as an integer, for any integer type.
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            Value::U8(v) => v.into(),
            Value::I8(v) => v.into(),
            Value::U16(v) => v.into(),
            Value::I16(v) => v.into(),
            Value::U32(v) => v.into(),
            Value::I32(v) => v.into(),
            Value::U64(v) => v.into(),
            Value::I64(v) => v.into(),
            _ => return None,
        })
    }
}

impl fmt::Display for Value {
    /// Scalars as they are, strings quoted, arrays in full (see [`Value::summary`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::U8(v) => write!(f, "{v}"),
            Value::I8(v) => write!(f, "{v}"),
            Value::U16(v) => write!(f, "{v}"),
            Value::I16(v) => write!(f, "{v}"),
            Value::U32(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::String(v) => write!(f, "{v:?}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Array(a) => {
                f.write_str("[")?;
                for i in 0..a.len() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if let Some(v) = a.get(i) {
                        write!(f, "{v}")?;
                    }
                }
                f.write_str("]")
            }
        }
    }
}

impl Value {
    /// A one-line rendering: arrays longer than `max_items` show their first
    /// items and their length; strings longer than `max_chars` are cut.
    pub fn summary(&self, max_items: usize, max_chars: usize) -> String {
        let cut = |s: &str| -> String {
            let escaped = format!("{s:?}");
            if escaped.chars().count() <= max_chars {
                escaped
            } else {
                let head: String = escaped.chars().take(max_chars).collect();
                format!("{head}…\" ({} bytes)", s.len())
            }
        };
        match self {
            Value::String(s) => cut(s),
            Value::Array(a) => {
                let n = a.len();
                let shown: Vec<String> = (0..n.min(max_items))
                    .filter_map(|i| a.get(i))
                    .map(|v| match v {
                        Value::String(s) => cut(&s),
                        v => v.to_string(),
                    })
                    .collect();
                if n > max_items {
                    format!(
                        "[{}, …] ({n} × {})",
                        shown.join(", "),
                        a.element_type().name()
                    )
                } else {
                    format!("[{}]", shown.join(", "))
                }
            }
            v => v.to_string(),
        }
    }
}

/// The metadata of a GGUF file, in file order, with typed getters.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    entries: Vec<(String, Value)>,
    index: HashMap<String, usize>,
}

macro_rules! int_getter {
    ($name:ident, $opt:ident, $t:ty) => {
        #[doc = concat!("The value of `key` as ", stringify!($t), "; any integer type whose value fits is accepted.")]
        pub fn $name(&self, key: &str) -> Result<$t> {
            self.$opt(key)?.ok_or_else(|| missing(key))
        }

        #[doc = concat!("Like [`Metadata::", stringify!($name), "`], but `Ok(None)` when the key is absent.")]
        pub fn $opt(&self, key: &str) -> Result<Option<$t>> {
            let Some(v) = self.get(key) else { return Ok(None) };
            let Some(i) = v.as_i128() else {
                return Err(wrong_type(key, v, stringify!($t)));
            };
            <$t>::try_from(i).map(Some).map_err(|_| GgufError::OutOfRange {
                key: key.to_string(),
                value: i.to_string(),
                expected: stringify!($t),
            })
        }
    };
}

fn missing(key: &str) -> GgufError {
    GgufError::MissingKey {
        key: key.to_string(),
    }
}

fn wrong_type(key: &str, v: &Value, expected: &'static str) -> GgufError {
    GgufError::WrongType {
        key: key.to_string(),
        found: v.type_name(),
        expected,
    }
}

impl Metadata {
    /// Adds an entry; returns false (and changes nothing) if the key exists.
    pub fn insert(&mut self, key: String, value: Value) -> bool {
        if self.index.contains_key(&key) {
            return false;
        }
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push((key, value));
        true
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    int_getter!(get_u8, get_u8_opt, u8);
    int_getter!(get_u16, get_u16_opt, u16);
    int_getter!(get_u32, get_u32_opt, u32);
    int_getter!(get_i32, get_i32_opt, i32);
    int_getter!(get_u64, get_u64_opt, u64);
    int_getter!(get_i64, get_i64_opt, i64);
    int_getter!(get_usize, get_usize_opt, usize);

    /// The value of `key` as f32 (f32 or f64 values).
    pub fn get_f32(&self, key: &str) -> Result<f32> {
        self.get_f32_opt(key)?.ok_or_else(|| missing(key))
    }

    pub fn get_f32_opt(&self, key: &str) -> Result<Option<f32>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::F32(v)) => Ok(Some(*v)),
            Some(Value::F64(v)) => Ok(Some(*v as f32)),
            Some(v) => Err(wrong_type(key, v, "f32")),
        }
    }

    pub fn get_bool(&self, key: &str) -> Result<bool> {
        self.get_bool_opt(key)?.ok_or_else(|| missing(key))
    }

    pub fn get_bool_opt(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(v)) => Ok(Some(*v)),
            Some(v) => Err(wrong_type(key, v, "bool")),
        }
    }

    pub fn get_str(&self, key: &str) -> Result<&str> {
        self.get_str_opt(key)?.ok_or_else(|| missing(key))
    }

    pub fn get_str_opt(&self, key: &str) -> Result<Option<&str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(v)) => Ok(Some(v)),
            Some(v) => Err(wrong_type(key, v, "string")),
        }
    }

    pub fn get_array(&self, key: &str) -> Result<&Array> {
        match self.get(key) {
            None => Err(missing(key)),
            Some(Value::Array(a)) => Ok(a),
            Some(v) => Err(wrong_type(key, v, "array")),
        }
    }

    pub fn get_str_array(&self, key: &str) -> Result<&[String]> {
        match self.get_array(key)? {
            Array::String(v) => Ok(v),
            _ => Err(wrong_type(
                key,
                self.get(key).expect("present"),
                "array of string",
            )),
        }
    }

    pub fn get_f32_array(&self, key: &str) -> Result<&[f32]> {
        match self.get_array(key)? {
            Array::F32(v) => Ok(v),
            _ => Err(wrong_type(
                key,
                self.get(key).expect("present"),
                "array of f32",
            )),
        }
    }

    /// An integer array as i64 values (any integer element type).
    pub fn get_int_array(&self, key: &str) -> Result<Vec<i64>> {
        let a = self.get_array(key)?;
        let out: Option<Vec<i64>> = (0..a.len())
            .map(|i| {
                a.get(i)
                    .and_then(|v| v.as_i128())
                    .and_then(|v| i64::try_from(v).ok())
            })
            .collect();
        out.ok_or_else(|| wrong_type(key, self.get(key).expect("present"), "array of integers"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md() -> Metadata {
        let mut m = Metadata::default();
        m.insert("a.u32".into(), Value::U32(7));
        m.insert("a.i32".into(), Value::I32(-1));
        m.insert("a.str".into(), Value::String("hi".into()));
        m.insert("a.f64".into(), Value::F64(0.5));
        m.insert(
            "a.arr".into(),
            Value::Array(Array::String(vec!["x".into(), "y".into()])),
        );
        m
    }

    #[test]
    fn typed_getters_and_their_errors() {
        let m = md();
        assert_eq!(m.get_u32("a.u32").unwrap(), 7);
        assert_eq!(m.get_u64("a.u32").unwrap(), 7);
        assert_eq!(m.get_f32("a.f64").unwrap(), 0.5);
        assert_eq!(m.get_str("a.str").unwrap(), "hi");
        assert_eq!(m.get_str_array("a.arr").unwrap(), ["x", "y"]);
        assert_eq!(m.get_u32_opt("nope").unwrap(), None);
        assert_eq!(
            m.get_u32("nope").unwrap_err().to_string(),
            "missing metadata key nope"
        );
        assert_eq!(
            m.get_u32("a.str").unwrap_err().to_string(),
            "metadata key a.str has type string, expected u32"
        );
        assert_eq!(
            m.get_f32_array("a.arr").unwrap_err().to_string(),
            "metadata key a.arr has type array of string, expected array of f32"
        );
        assert_eq!(
            m.get_u32("a.i32").unwrap_err().to_string(),
            "metadata key a.i32 is -1, which does not fit in u32"
        );
        assert!(!md().insert("a.u32".into(), Value::U8(1)));
    }

    #[test]
    fn summaries_cut_long_arrays_and_strings() {
        let v = Value::Array(Array::U32((0..100).collect()));
        assert_eq!(v.summary(3, 80), "[0, 1, 2, …] (100 × u32)");
        let s = Value::String("x".repeat(100));
        assert!(
            s.summary(3, 10).ends_with("…\" (100 bytes)"),
            "{}",
            s.summary(3, 10)
        );
    }
}

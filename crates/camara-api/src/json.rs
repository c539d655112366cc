//! Request JSON read in one pass into a `serde_json::Value`, refusing an object that names a
//! key twice (at any depth). serde_json keeps the last of duplicate keys; a WAF or API
//! gateway in front that reads the first would approve a different request from the one the
//! gateway executes, so a duplicate is a 400, never a choice.

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Parses `bytes` as JSON; an object with a repeated key is an error naming the key.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Parses `bytes` as JSON into `T`, refusing repeated keys as [`from_slice`] does. For
/// bodies whose type has open parts (maps, `Value`s) that serde's derive does not check.
pub fn from_slice_as<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    T::deserialize(from_slice(bytes)?)
}

/// A `Value` visitor that refuses duplicate keys (serde_json's own one overwrites).
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never yields a non-finite number from text.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(Strict)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key \"{key}\"")));
            }
            let v = map.next_value_seed(Strict)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_as_serde_json_for_well_formed_input() {
        for text in [
            r#"{"a":1,"b":[true,null,-2,3.5,"x"],"c":{"d":{}},"e":[]}"#,
            r#"[1e3, 18446744073709551615, -9223372036854775808, "\u00e9"]"#,
            r#""just a string""#,
            "null",
        ] {
            let ours = from_slice(text.as_bytes()).map_err(|e| e.to_string());
            let theirs: Result<Value, String> = serde_json::from_str(text).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{text}");
        }
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        for text in [
            r#"{"qosProfile":"QOS_M","qosProfile":"QOS_L"}"#,
            r#"{"device":{"phoneNumber":"+1","phoneNumber":"+2"}}"#,
            r#"{"a":[{"b":1},{"c":2,"c":3}]}"#,
            // Escapes decode to the same key.
            r#"{"duration":1,"dur\u0061tion":2}"#,
        ] {
            let e = from_slice(text.as_bytes()).map(|_| ()).map_err(|e| e.to_string());
            assert!(e.as_ref().is_err_and(|e| e.contains("duplicate key")), "{text}: {e:?}");
        }
        // The same key in sibling objects is not a repeat.
        assert!(from_slice(br#"{"a":{"x":1},"b":{"x":1}}"#).is_ok());
    }

    #[test]
    fn trailing_input_is_refused() {
        assert!(from_slice(br#"{"a":1} {"a":2}"#).is_err());
    }
}

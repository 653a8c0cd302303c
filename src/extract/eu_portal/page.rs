//! Reading one SEDIA search response page (SOURCES-FORMATS.md §1.2) into
//! rows: the envelope, each `results[]` row, and the `metadata` keys
//! fundwatch uses.
//!
//! The page is deserialized straight into these types rather than through a
//! `serde_json::Value` tree: a `Value` allocates a map node and a string for
//! every key and value of every row (the real samples' rows carry about
//! thirty metadata keys), and the keys fundwatch does not read are skipped
//! unread here. What is read is read exactly as from a `Value`: a test
//! compares both on every fixture, on the real samples and on damaged copies
//! of them.
//!
//! One difference is deliberate: a field fundwatch never reads can no longer
//! sink the whole page. `serde_json` skips it without decoding it, so invalid
//! UTF-8 or a lone surrogate escape in it, a number beyond `f64`, or nesting
//! deeper than 128 there no longer make the page an error. Everything that is
//! read is decoded and checked as before.

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::extract::ExtractError;

/// The `metadata` keys fundwatch reads (§1.3); every other key is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    /// `type`: 1 topic, 2 call, 8 cascade-funding call.
    Type,
    /// `callccm2Id`: a cascade call's own id.
    Callccm2Id,
    /// `identifier`: the topic code (`HORIZON-CL4-2026-TWIN-01`).
    Identifier,
    /// `status`: a SEDIA status id.
    Status,
    /// `descriptionByte`: the topic's description, HTML.
    DescriptionByte,
    /// `title`.
    Title,
    /// `caName`: a cascade call's own name.
    CaName,
    /// `url`.
    Url,
    /// `actions`: JSON inside a string.
    Actions,
    /// `budgetOverview`: JSON inside a string.
    BudgetOverview,
    /// `deadlineModel`: single-stage, two-stage, multiple cut-off.
    DeadlineModel,
    /// `deadlineDate`: one per stage or cut-off.
    DeadlineDate,
    /// `startDate`: the opening.
    StartDate,
    /// `frameworkProgramme`: the programme id.
    FrameworkProgramme,
    /// `callIdentifier`: the call a topic belongs to.
    CallIdentifier,
    /// `keywords`.
    Keywords,
    /// `tags`.
    Tags,
    /// `typesOfAction`.
    TypesOfAction,
}

impl Meta {
    /// How many keys are read; the size of [`PortalRow`]'s table (the
    /// last variant's index, plus one).
    const COUNT: usize = Meta::TypesOfAction as usize + 1;

    /// The key as the portal spells it.
    pub const fn key(self) -> &'static str {
        match self {
            Meta::Type => "type",
            Meta::Callccm2Id => "callccm2Id",
            Meta::Identifier => "identifier",
            Meta::Status => "status",
            Meta::DescriptionByte => "descriptionByte",
            Meta::Title => "title",
            Meta::CaName => "caName",
            Meta::Url => "url",
            Meta::Actions => "actions",
            Meta::BudgetOverview => "budgetOverview",
            Meta::DeadlineModel => "deadlineModel",
            Meta::DeadlineDate => "deadlineDate",
            Meta::StartDate => "startDate",
            Meta::FrameworkProgramme => "frameworkProgramme",
            Meta::CallIdentifier => "callIdentifier",
            Meta::Keywords => "keywords",
            Meta::Tags => "tags",
            Meta::TypesOfAction => "typesOfAction",
        }
    }
}

/// One page of search results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PortalPage {
    /// `totalResults` of the envelope (all pages).
    pub total_results: u64,
    /// The `results[]` rows of this page, in order.
    pub rows: Vec<PortalRow>,
}

/// One `results[]` element, with the [`Meta`] keys of its `metadata`
/// flattened to lists of strings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PortalRow {
    /// Unique document id (`50147304TOPICSen`).
    pub reference: Option<String>,
    /// The row's `url` (portal page, or legacy `topicDetails/….json`).
    pub url: Option<String>,
    /// `summary` (the title on current rows).
    pub summary: Option<String>,
    /// `content` (the title on older rows, apiVersion 2.101).
    pub content: Option<String>,
    /// The values of each [`Meta`] key, in its order: strings as they are,
    /// numbers and booleans written as JSON, nulls dropped.
    metadata: [Vec<String>; Meta::COUNT],
    /// Why the row could not be read, when it is not an object.
    pub malformed: Option<String>,
}

impl PortalRow {
    /// The first non-blank value of a metadata key.
    pub fn meta(&self, key: Meta) -> Option<&str> {
        self.metas(key)
            .iter()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
    }

    /// Every value of a metadata key.
    pub fn metas(&self, key: Meta) -> &[String] {
        &self.metadata[key as usize]
    }

    /// Sets a key's values (for tests and hand-built rows).
    pub fn set_meta(&mut self, key: Meta, values: Vec<String>) {
        self.metadata[key as usize] = values;
    }
}

/// Reads one response body. An error body (`"type":"throwable"`, even with
/// HTTP 200, or `businessError`) is an [`ExtractError::Portal`].
pub fn parse_page(bytes: &[u8]) -> Result<PortalPage, ExtractError> {
    // A body valid as a whole (the usual case) is checked once, at the
    // speed of `str::from_utf8`, instead of string by string by serde_json;
    // any other body is read from bytes, with the same outcome.
    let top = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    };
    let Top(envelope) = top.map_err(|source| ExtractError::PortalJson { source })?;
    let Some(envelope) = envelope else {
        return Err(ExtractError::NotPortalResponse {
            message: "the body is JSON but not an object".into(),
        });
    };
    let results = match envelope.results {
        Some(Results::Rows(rows)) => Some(rows),
        _ => None,
    };
    if let Some(kind) = envelope.kind
        && (kind == "throwable" || results.is_none())
    {
        let message = envelope.message.unwrap_or_else(|| {
            let body = String::from_utf8_lossy(bytes);
            body.chars().take(200).collect()
        });
        return Err(ExtractError::Portal { kind, message });
    }
    let Some(rows) = results else {
        return Err(ExtractError::NotPortalResponse {
            message: "no `results` array".into(),
        });
    };
    let total_results = match envelope.total {
        Total::Number(n) => n.unwrap_or(0),
        Total::Text(s) => s.trim().parse().unwrap_or(0),
        Total::Other => rows.len() as u64,
    };
    Ok(PortalPage {
        total_results,
        rows,
    })
}

// What follows are serde visitors. Each keeps the last of repeated keys, as
// a `Value` object does, and accepts any JSON type where the portal's own
// is not guaranteed, turning it into what `Value` accessors would have
// given (`as_str` → `None` for a non-string, and so on).

/// The whole body: `None` when it is JSON but not an object.
struct Top(Option<Envelope>);

#[derive(Default)]
struct Envelope {
    /// `type`, when a string (error bodies).
    kind: Option<String>,
    /// `message`, when a string.
    message: Option<String>,
    results: Option<Results>,
    total: Total,
}

enum Results {
    Rows(Vec<PortalRow>),
    NotArray,
}

/// `totalResults`: a number (`None` when not a `u64`), a string, or
/// anything else.
#[derive(Default)]
enum Total {
    Number(Option<u64>),
    Text(String),
    #[default]
    Other,
}

/// `impl Deserialize for $ty` through a visitor of any JSON value, the
/// shape of every type below: `$what` is what the visitor expects, `$body`
/// its `visit_*` methods.
macro_rules! deserialize_any {
    ($ty:ident, $what:literal, { $($body:tt)* }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    $($body)*
                }
                d.deserialize_any(V)
            }
        }
    };
}

/// Implements the `visit_*` methods of the scalar JSON values other than
/// strings (booleans, numbers, null) by returning `$value` (an expression
/// of the visitor's value type).
macro_rules! visit_non_strings {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// Implements the `visit_*` methods of every scalar JSON value, strings
/// included, by returning `$value`.
macro_rules! visit_scalars {
    ($value:expr) => {
        $crate::extract::eu_portal::page::visit_non_strings!($value);
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// Implements `visit_seq` by skipping the array and returning `$value`.
macro_rules! skip_seq {
    ($value:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
}

/// Implements `visit_map` by skipping the object and returning `$value`.
macro_rules! skip_map {
    ($value:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
}

pub(super) use {deserialize_any, skip_map, skip_seq, visit_non_strings, visit_scalars};

deserialize_any!(Top, "a SEDIA search response", {
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut e = Envelope::default();
        while let Some(key) = map.next_key::<Key<TopKey>>()? {
            match key.0 {
                Some(TopKey::Type) => e.kind = map.next_value::<OnlyString>()?.0,
                Some(TopKey::Message) => e.message = map.next_value::<OnlyString>()?.0,
                Some(TopKey::Results) => e.results = Some(map.next_value()?),
                Some(TopKey::TotalResults) => e.total = map.next_value()?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Top(Some(e)))
    }
    visit_scalars!(Top(None));
    skip_seq!(Top(None));
});

deserialize_any!(Results, "the results", {
    visit_scalars!(Results::NotArray);
    skip_map!(Results::NotArray);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Results, A::Error> {
        let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(row) = seq.next_element::<PortalRow>()? {
            rows.push(row);
        }
        Ok(Results::Rows(rows))
    }
});

deserialize_any!(Total, "totalResults", {
    fn visit_u64<E>(self, n: u64) -> Result<Total, E> {
        Ok(Total::Number(Some(n)))
    }
    // serde_json gives non-negative integers as `u64`; these are
    // the numbers `Value::as_u64` refuses.
    fn visit_i64<E>(self, _: i64) -> Result<Total, E> {
        Ok(Total::Number(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Total, E> {
        Ok(Total::Number(None))
    }
    fn visit_str<E>(self, s: &str) -> Result<Total, E> {
        Ok(Total::Text(s.to_owned()))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Total, E> {
        Ok(Total::Other)
    }
    fn visit_unit<E>(self) -> Result<Total, E> {
        Ok(Total::Other)
    }
    skip_seq!(Total::Other);
    skip_map!(Total::Other);
});

/// A `results[]` element that is not an object.
fn malformed_row(kind: &str) -> PortalRow {
    PortalRow {
        malformed: Some(format!("a result is not an object but {kind}")),
        ..PortalRow::default()
    }
}

deserialize_any!(PortalRow, "a result row", {
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PortalRow, A::Error> {
        let mut row = PortalRow::default();
        while let Some(key) = map.next_key::<Key<RowKey>>()? {
            match key.0 {
                Some(RowKey::Reference) => row.reference = map.next_value::<OnlyString>()?.0,
                Some(RowKey::Url) => row.url = map.next_value::<OnlyString>()?.0,
                Some(RowKey::Summary) => row.summary = map.next_value::<OnlyString>()?.0,
                Some(RowKey::Content) => row.content = map.next_value::<OnlyString>()?.0,
                Some(RowKey::Metadata) => row.metadata = map.next_value::<Metadata>()?.0,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(row)
    }
    fn visit_bool<E>(self, _: bool) -> Result<PortalRow, E> {
        Ok(malformed_row("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<PortalRow, E> {
        Ok(malformed_row("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<PortalRow, E> {
        Ok(malformed_row("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<PortalRow, E> {
        Ok(malformed_row("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<PortalRow, E> {
        Ok(malformed_row("a string"))
    }
    fn visit_unit<E>(self) -> Result<PortalRow, E> {
        Ok(malformed_row("null"))
    }
    skip_seq!(malformed_row("an array"));
});

/// A row's `metadata`: the [`Meta`] keys' values; empty when it is not an
/// object.
struct Metadata([Vec<String>; Meta::COUNT]);

deserialize_any!(Metadata, "a metadata object", {
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
        let mut out: [Vec<String>; Meta::COUNT] = Default::default();
        while let Some(key) = map.next_key::<Key<Meta>>()? {
            match key.0 {
                Some(k) => out[k as usize] = map.next_value::<Values>()?.0,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Metadata(out))
    }
    visit_scalars!(Metadata(Default::default()));
    skip_seq!(Metadata(Default::default()));
});

/// A metadata value as a list of strings: an array's scalars, or a lone
/// value as a list of one.
struct Values(Vec<String>);

deserialize_any!(Values, "a metadata value", {
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
        // The real rows' arrays hold one value almost always.
        let mut out = Vec::with_capacity(1);
        while let Some(Scalar(s)) = seq.next_element()? {
            out.extend(s);
        }
        Ok(Values(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Values, A::Error> {
        let v = Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Values(vec![v.to_string()]))
    }
    fn visit_bool<E>(self, b: bool) -> Result<Values, E> {
        Ok(Values(vec![b.to_string()]))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Values, E> {
        Ok(Values(vec![n.to_string()]))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Values, E> {
        Ok(Values(vec![n.to_string()]))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Values, E> {
        Ok(Values(float_text(n).into_iter().collect()))
    }
    fn visit_str<E>(self, s: &str) -> Result<Values, E> {
        Ok(Values(vec![s.to_owned()]))
    }
    fn visit_string<E>(self, s: String) -> Result<Values, E> {
        Ok(Values(vec![s]))
    }
    fn visit_unit<E>(self) -> Result<Values, E> {
        Ok(Values(Vec::new()))
    }
});

/// One value of a metadata array as a string: a string as it is, a number,
/// boolean, array or object written as JSON, `None` for null.
struct Scalar(Option<String>);

/// A float as `Value` writes it (`2.0`, `1e300`). JSON has no NaN, but a
/// `Value` would hold one as null, so it is dropped like null.
fn float_text(n: f64) -> Option<String> {
    serde_json::Number::from_f64(n).map(|n| n.to_string())
}

deserialize_any!(Scalar, "a metadata value", {
    fn visit_bool<E>(self, b: bool) -> Result<Scalar, E> {
        Ok(Scalar(Some(b.to_string())))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Scalar, E> {
        Ok(Scalar(Some(n.to_string())))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Scalar, E> {
        Ok(Scalar(Some(n.to_string())))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Scalar, E> {
        Ok(Scalar(float_text(n)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Scalar, E> {
        Ok(Scalar(Some(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Scalar, E> {
        Ok(Scalar(Some(s)))
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
        let v = Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(Scalar(Some(v.to_string())))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
        let v = Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Scalar(Some(v.to_string())))
    }
});

/// A value read only when it is a string (`Value::as_str`).
pub(super) struct OnlyString(pub(super) Option<String>);

deserialize_any!(OnlyString, "a string", {
    fn visit_str<E>(self, s: &str) -> Result<OnlyString, E> {
        Ok(OnlyString(Some(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<OnlyString, E> {
        Ok(OnlyString(Some(s)))
    }
    visit_non_strings!(OnlyString(None));
    skip_seq!(OnlyString(None));
    skip_map!(OnlyString(None));
});

/// The envelope keys read.
#[derive(Clone, Copy)]
enum TopKey {
    Type,
    Message,
    Results,
    TotalResults,
}

/// The row keys read.
#[derive(Clone, Copy)]
enum RowKey {
    Reference,
    Url,
    Summary,
    Content,
    Metadata,
}

/// A key recognised without allocating (`None`: a key not read).
pub(super) struct Key<K>(pub(super) Option<K>);

pub(super) trait KeyName: Sized {
    fn from_key(key: &str) -> Option<Self>;
}

impl KeyName for TopKey {
    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "type" => TopKey::Type,
            "message" => TopKey::Message,
            "results" => TopKey::Results,
            "totalResults" => TopKey::TotalResults,
            _ => return None,
        })
    }
}

impl KeyName for RowKey {
    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "reference" => RowKey::Reference,
            "url" => RowKey::Url,
            "summary" => RowKey::Summary,
            "content" => RowKey::Content,
            "metadata" => RowKey::Metadata,
            _ => return None,
        })
    }
}

impl KeyName for Meta {
    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "type" => Meta::Type,
            "callccm2Id" => Meta::Callccm2Id,
            "identifier" => Meta::Identifier,
            "status" => Meta::Status,
            "descriptionByte" => Meta::DescriptionByte,
            "title" => Meta::Title,
            "caName" => Meta::CaName,
            "url" => Meta::Url,
            "actions" => Meta::Actions,
            "budgetOverview" => Meta::BudgetOverview,
            "deadlineModel" => Meta::DeadlineModel,
            "deadlineDate" => Meta::DeadlineDate,
            "startDate" => Meta::StartDate,
            "frameworkProgramme" => Meta::FrameworkProgramme,
            "callIdentifier" => Meta::CallIdentifier,
            "keywords" => Meta::Keywords,
            "tags" => Meta::Tags,
            "typesOfAction" => Meta::TypesOfAction,
            _ => return None,
        })
    }
}

impl<'de, K: KeyName> Deserialize<'de> for Key<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K>(std::marker::PhantomData<K>);
        impl<'de, K: KeyName> Visitor<'de> for V<K> {
            type Value = Key<K>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<K>, E> {
                Ok(Key(K::from_key(s)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::Map;

    use super::*;
    use crate::test_support::{XorShift, fixture_texts};

    const ALL: [Meta; Meta::COUNT] = [
        Meta::Type,
        Meta::Callccm2Id,
        Meta::Identifier,
        Meta::Status,
        Meta::DescriptionByte,
        Meta::Title,
        Meta::CaName,
        Meta::Url,
        Meta::Actions,
        Meta::BudgetOverview,
        Meta::DeadlineModel,
        Meta::DeadlineDate,
        Meta::StartDate,
        Meta::FrameworkProgramme,
        Meta::CallIdentifier,
        Meta::Keywords,
        Meta::Tags,
        Meta::TypesOfAction,
    ];

    #[test]
    fn every_meta_key_is_recognised_under_its_own_name() {
        for (i, m) in ALL.into_iter().enumerate() {
            assert_eq!(m as usize, i);
            assert_eq!(<Meta as KeyName>::from_key(m.key()), Some(m), "{m:?}");
        }
        assert_eq!(<Meta as KeyName>::from_key("cenTagsA"), None);
    }

    /// A row as the previous parser, through a `Value`, gave it: every
    /// metadata key.
    #[derive(Debug)]
    struct ReferenceRow {
        reference: Option<String>,
        url: Option<String>,
        summary: Option<String>,
        content: Option<String>,
        metadata: HashMap<String, Vec<String>>,
        malformed: Option<String>,
    }

    /// The previous `parse_page`, kept as the reference of the
    /// differential test: the whole body into a `Value`, then rows.
    fn reference_parse(bytes: &[u8]) -> Result<(u64, Vec<ReferenceRow>), ExtractError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|source| ExtractError::PortalJson { source })?;
        let Value::Object(mut top) = value else {
            return Err(ExtractError::NotPortalResponse {
                message: "the body is JSON but not an object".into(),
            });
        };
        let kind = top.get("type").and_then(Value::as_str).map(str::to_owned);
        let has_results = top.get("results").is_some_and(Value::is_array);
        if let Some(kind) = kind
            && (kind == "throwable" || !has_results)
        {
            let message = top
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    let body = String::from_utf8_lossy(bytes);
                    body.chars().take(200).collect()
                });
            return Err(ExtractError::Portal { kind, message });
        }
        let Some(Value::Array(results)) = top.remove("results") else {
            return Err(ExtractError::NotPortalResponse {
                message: "no `results` array".into(),
            });
        };
        let total = match top.get("totalResults") {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
            _ => results.len() as u64,
        };
        Ok((total, results.into_iter().map(reference_row).collect()))
    }

    fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
        match map.remove(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    fn reference_row(v: Value) -> ReferenceRow {
        let Value::Object(mut map) = v else {
            let kind = match v {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
            };
            return ReferenceRow {
                reference: None,
                url: None,
                summary: None,
                content: None,
                metadata: HashMap::new(),
                malformed: Some(format!("a result is not an object but {kind}")),
            };
        };
        let scalar = |v: Value| match v {
            Value::String(s) => Some(s),
            Value::Null => None,
            other => Some(other.to_string()),
        };
        let mut metadata = HashMap::new();
        if let Some(Value::Object(meta)) = map.remove("metadata") {
            for (k, v) in meta {
                let values = match v {
                    Value::Array(items) => items.into_iter().filter_map(scalar).collect(),
                    other => scalar(other).into_iter().collect(),
                };
                metadata.insert(k, values);
            }
        }
        ReferenceRow {
            reference: take_string(&mut map, "reference"),
            url: take_string(&mut map, "url"),
            summary: take_string(&mut map, "summary"),
            content: take_string(&mut map, "content"),
            metadata,
            malformed: None,
        }
    }

    /// Both parsers agree on `bytes`: the same error, or the same rows for
    /// every key read. Returns whether the page was read.
    fn agree(name: &str, bytes: &[u8]) -> bool {
        match (reference_parse(bytes), parse_page(bytes)) {
            (Ok((total, old)), Ok(new)) => {
                assert_eq!(total, new.total_results, "{name}");
                assert_eq!(old.len(), new.rows.len(), "{name}");
                for (i, (o, n)) in old.iter().zip(&new.rows).enumerate() {
                    let at = format!("{name}, row {}", i + 1);
                    assert_eq!(o.reference, n.reference, "{at}");
                    assert_eq!(o.url, n.url, "{at}");
                    assert_eq!(o.summary, n.summary, "{at}");
                    assert_eq!(o.content, n.content, "{at}");
                    assert_eq!(o.malformed, n.malformed, "{at}");
                    for m in ALL {
                        let want = o.metadata.get(m.key()).map_or(&[][..], Vec::as_slice);
                        assert_eq!(want, n.metas(m), "{at}, {}", m.key());
                    }
                }
                true
            }
            // A JSON error is reported at the same place; serde_json words
            // it differently, one column apart at most, when it is met while
            // skipping a field rather than decoding it.
            (
                Err(ExtractError::PortalJson { source: old }),
                Err(ExtractError::PortalJson { source: new }),
            ) => {
                // serde_json's (line, column) as a byte offset: column 0 is
                // just after a newline.
                let offset = |e: &serde_json::Error| {
                    let line_start: usize = bytes
                        .split_inclusive(|&b| b == b'\n')
                        .take(e.line() - 1)
                        .map(<[u8]>::len)
                        .sum();
                    line_start + e.column()
                };
                assert!(
                    offset(&old).abs_diff(offset(&new)) <= 1,
                    "{name}: {old} / {new}"
                );
                false
            }
            (Err(old), Err(new)) => {
                assert_eq!(old.to_string(), new.to_string(), "{name}");
                false
            }
            (old, new) => panic!("{name}: reference {old:?}, new {new:?}"),
        }
    }

    #[test]
    fn typed_parse_reads_what_the_value_parse_read() {
        let cases: &[&str] = &[
            r#"{"totalResults":2,"results":[{"reference":"r1","url":7,"summary":null,"content":["x"],
               "metadata":{"identifier":["A-1"," ","B"],"status":[31094502,null,true,1.5,2e3,-4],
               "title":"lone","tags":{"a":[1,{"b":null}]},"keywords":[["x",1],{"k":"v"}],
               "type":null,"deadlineDate":[],"cenTagsA":["ignored"]}},
               [1,2],"text",3,null,true,{"metadata":[1]},{"metadata":"x"},
               {"metadata":{"title":["first"]},"metadata":{"identifier":["second"]}},
               {"reference":"a","reference":false,"url":"u","url":"v"}]}"#,
            r#"{"totalResults":"  42 ","results":[]}"#,
            r#"{"totalResults":"many","results":[]}"#,
            r#"{"totalResults":-1,"results":[]}"#,
            r#"{"totalResults":1.0,"results":[]}"#,
            r#"{"totalResults":null,"results":[{}]}"#,
            r#"{"totalResults":[3],"results":[{},{}]}"#,
            r#"{"results":{"a":1}}"#,
            r#"{"results":"x"}"#,
            r#"{"results":[],"results":7}"#,
            r#"{"results":7,"results":[]}"#,
            r#"{"type":"throwable","message":"boom","results":[]}"#,
            r#"{"type":"businessError","message":3}"#,
            r#"{"type":7,"results":[]}"#,
            r#"{"type":"ok","results":[{"metadata":{"title":["t"]}}]}"#,
            r#"{"metadata":{"title":"a\u00e9\"b"},"results":[{"summary":"\ud83d\ude00 \n"}]}"#,
            "[]",
            "\"x\"",
            "null",
            "",
            "{",
            r#"{"results":[{"metadata":{"title":["a]}}]}"#,
            r#"{"results":[{"metadata":{"title":["\x"]}}]}"#,
            r#"{"results":[{"other":["\x"]}]}"#,
            "{\"results\":[{\"other\":[\"\u{1}\"]}]}",
            r#"{"results":[]} x"#,
        ];
        for (i, case) in cases.iter().enumerate() {
            agree(&format!("case {i}"), case.as_bytes());
        }
    }

    #[test]
    fn typed_parse_reads_the_fixtures_and_damaged_copies_as_the_value_parse() {
        // Damage made of JSON tokens and cuts only: no invalid UTF-8, lone
        // surrogate, huge number or deep nesting, where the typed parse is
        // deliberately more lenient (module doc; tested below).
        const TOKENS: &[&str] = &[
            "",
            "null",
            "1",
            "-2",
            "1.5",
            "true",
            "\"s\"",
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            "\"",
            "[1,\"a\",null]",
            "{\"k\":[]}",
            "\\",
            "\\n",
        ];
        let mut rng = XorShift(0x5EDA_0001);
        let (mut pages, mut damaged_read) = (0, 0);
        for (path, text) in fixture_texts() {
            if !path.ends_with(".json") {
                continue;
            }
            if agree(&path, text.as_bytes()) {
                pages += 1;
            }
            let bytes = text.as_bytes();
            for round in 0..300 {
                let mut damaged = bytes.to_vec();
                for _ in 0..1 + rng.next() % 3 {
                    let at = (rng.next() % damaged.len() as u64) as usize;
                    let len = (rng.next() % 8) as usize;
                    let end = (at + len).min(damaged.len());
                    damaged.splice(at..end, rng.pick(TOKENS).bytes());
                }
                if round % 10 == 0 {
                    damaged.truncate((rng.next() % damaged.len() as u64) as usize);
                }
                if std::str::from_utf8(&damaged).is_err() {
                    continue; // a cut through a multi-byte character
                }
                if agree(&format!("{path}, damaged copy {round}"), &damaged) {
                    damaged_read += 1;
                }
            }
        }
        assert!(pages >= 3, "only {pages} fixture pages were read");
        // Most damage breaks the JSON; enough must leave it readable for
        // the comparison of rows to mean something.
        assert!(
            damaged_read >= 100,
            "only {damaged_read} damaged copies were read"
        );
        eprintln!("{pages} pages, {damaged_read} damaged copies read");
    }

    #[test]
    fn a_broken_field_that_is_never_read_does_not_sink_the_page() {
        let mut body = br#"{"results":[{"metadata":{"title":["kept"],"cenTagsA":[""#.to_vec();
        body.extend_from_slice(b"\xff\xfe");
        body.extend_from_slice(br#"", "\udc00", 1e400]}, "other": "#);
        body.extend_from_slice(&[b'['; 200]);
        body.extend_from_slice(&[b']'; 200]);
        body.extend_from_slice(b"}]}");
        assert!(reference_parse(&body).is_err());
        let page = parse_page(&body).unwrap();
        assert_eq!(page.rows[0].meta(Meta::Title), Some("kept"));
        // The same damage in a field that is read is still an error.
        let read = br#"{"results":[{"metadata":{"title":["\udc00"]}}]}"#;
        assert!(matches!(
            parse_page(read),
            Err(ExtractError::PortalJson { .. })
        ));
    }

    #[test]
    fn error_bodies_are_errors() {
        let e = parse_page(br#"{"type":"throwable","message":"boom"}"#).unwrap_err();
        assert!(
            matches!(e, ExtractError::Portal { ref kind, ref message } if kind == "throwable" && message == "boom"),
            "{e:?}"
        );
        let e = parse_page(br#"{"type":"businessError","message":"Invalid Query format"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("Invalid Query format"), "{e}");
        assert!(matches!(
            parse_page(b"<html>"),
            Err(ExtractError::PortalJson { .. })
        ));
        assert!(matches!(
            parse_page(b"[]"),
            Err(ExtractError::NotPortalResponse { .. })
        ));
        assert!(matches!(
            parse_page(br#"{"totalResults":3}"#),
            Err(ExtractError::NotPortalResponse { .. })
        ));
    }
}

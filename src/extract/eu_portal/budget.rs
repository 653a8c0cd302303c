//! A topic's budget from its row's `budgetOverview` (SOURCES-FORMATS.md
//! §1.3), a JSON text inside a metadata string that lists every topic of
//! the call.
//!
//! The text is deserialized straight into the few figures [`budget_for`]
//! reads rather than into a `serde_json::Value` (a map node and a string per
//! key: with `actions`, the JSON inside strings took an eighth of a row's
//! time that way, benches/extract.rs). Every value is read as the `Value`
//! accessors read it: a figure is a number or a numeric string, a key
//! repeated keeps its last value, objects are visited in key order (a
//! `Value` map is sorted) and any JSON type is accepted where the portal's
//! own is not guaranteed.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::page::{Key, KeyName, OnlyString, deserialize_any, skip_map, skip_seq, visit_scalars};
use crate::model::Budget;

/// The entries of `budgetTopicActionMap`, all its arrays' entries in key
/// order (empty when the overview has none).
#[derive(Debug, Default, PartialEq)]
pub(super) struct Overview(Vec<Entry>);

/// One entry of `budgetTopicActionMap` (a non-object entry has no field).
#[derive(Debug, Default, PartialEq)]
struct Entry {
    /// `action`: `"<identifier> - <type of action>"`.
    action: Option<String>,
    expected_grants: Option<f64>,
    min_contribution: Option<f64>,
    max_contribution: Option<f64>,
    /// The sum of `budgetYearMap`'s figures, when it has any.
    year_total: Option<f64>,
}

/// The topic's figures in an overview: entries whose `action` starts with
/// `identifier + " "` (§1.3). A `budgetYearMap` repeated identically on
/// other topics' entries is the call's budget, not the topic's (the real
/// HORIZON-JU-CBE-2026 rows carry 170760699 on every topic), so no total is
/// claimed then.
pub(super) fn budget_for(overview: &Overview, identifier: &str) -> Option<Budget> {
    let ours_at = |e: &Entry| {
        e.action.as_deref().is_some_and(|a| {
            a.strip_prefix(identifier)
                .is_some_and(|rest| rest.starts_with(' '))
        })
    };
    let (ours, others): (Vec<&Entry>, Vec<&Entry>) = overview.0.iter().partition(|e| ours_at(e));
    if ours.is_empty() {
        return None;
    }
    let mut b = Budget {
        currency: "EUR".into(),
        ..Budget::default()
    };
    let mut grants: Option<u32> = None;
    let mut total: Option<f64> = None;
    for e in &ours {
        if let Some(g) = e.expected_grants {
            grants = Some(
                grants
                    .unwrap_or(0)
                    .saturating_add(g.max(0.0).round() as u32),
            );
        }
        if let Some(m) = e.min_contribution {
            b.min_per_grant = Some(b.min_per_grant.map_or(m, |x: f64| x.min(m)));
        }
        if let Some(m) = e.max_contribution {
            b.max_per_grant = Some(b.max_per_grant.map_or(m, |x: f64| x.max(m)));
        }
        if let Some(t) = e.year_total {
            total = Some(total.unwrap_or(0.0) + t);
        }
    }
    let call_level = ours.iter().filter_map(|e| e.year_total).any(|t| {
        others
            .iter()
            .filter_map(|o| o.year_total)
            .any(|o| (o - t).abs() < 0.5)
    });
    b.expected_grants = grants;
    b.total = if call_level { None } else { total };
    Some(b)
}

deserialize_any!(Overview, "a budgetOverview", {
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Overview, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Key<OverviewKey>>()? {
            if let Some(OverviewKey::BudgetTopicActionMap) = key.0 {
                entries = map.next_value::<TopicActionMap>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Overview(entries))
    }
    visit_scalars!(Overview::default());
    skip_seq!(Overview::default());
});

/// `budgetTopicActionMap`'s entries, its arrays taken in key order.
struct TopicActionMap(Vec<Entry>);

deserialize_any!(TopicActionMap, "a budgetTopicActionMap", {
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopicActionMap, A::Error> {
        let mut by_key: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        while let Some((key, Entries(entries))) = map.next_entry::<String, Entries>()? {
            by_key.insert(key, entries);
        }
        Ok(TopicActionMap(by_key.into_values().flatten().collect()))
    }
    visit_scalars!(TopicActionMap(Vec::new()));
    skip_seq!(TopicActionMap(Vec::new()));
});

/// One value of `budgetTopicActionMap`: its entries when it is an array.
struct Entries(Vec<Entry>);

deserialize_any!(Entries, "a list of budget entries", {
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries, A::Error> {
        let mut out = Vec::new();
        while let Some(e) = seq.next_element::<Entry>()? {
            out.push(e);
        }
        Ok(Entries(out))
    }
    visit_scalars!(Entries(Vec::new()));
    skip_map!(Entries(Vec::new()));
});

deserialize_any!(Entry, "a budget entry", {
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mut e = Entry::default();
        while let Some(key) = map.next_key::<Key<EntryKey>>()? {
            match key.0 {
                Some(EntryKey::Action) => e.action = map.next_value::<OnlyString>()?.0,
                Some(EntryKey::ExpectedGrants) => e.expected_grants = map.next_value::<Figure>()?.0,
                Some(EntryKey::MinContribution) => {
                    e.min_contribution = map.next_value::<Figure>()?.0;
                }
                Some(EntryKey::MaxContribution) => {
                    e.max_contribution = map.next_value::<Figure>()?.0;
                }
                Some(EntryKey::BudgetYearMap) => e.year_total = map.next_value::<YearMap>()?.0,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(e)
    }
    visit_scalars!(Entry::default());
    skip_seq!(Entry::default());
});

/// `budgetYearMap`: the sum of its figures, in key order, when it has any.
struct YearMap(Option<f64>);

deserialize_any!(YearMap, "a budgetYearMap", {
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<YearMap, A::Error> {
        let mut by_year: BTreeMap<String, Option<f64>> = BTreeMap::new();
        while let Some((year, Figure(f))) = map.next_entry::<String, Figure>()? {
            by_year.insert(year, f);
        }
        let values: Vec<f64> = by_year.into_values().flatten().collect();
        Ok(YearMap((!values.is_empty()).then(|| values.iter().sum())))
    }
    visit_scalars!(YearMap(None));
    skip_seq!(YearMap(None));
});

/// A figure: a number, or a string holding one (`"9000000"`).
struct Figure(Option<f64>);

deserialize_any!(Figure, "a figure", {
    fn visit_u64<E>(self, n: u64) -> Result<Figure, E> {
        Ok(Figure(Some(n as f64)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Figure, E> {
        Ok(Figure(Some(n as f64)))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Figure, E> {
        Ok(Figure(Some(n)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Figure, E> {
        Ok(Figure(s.trim().parse().ok()))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Figure, E> {
        Ok(Figure(None))
    }
    fn visit_unit<E>(self) -> Result<Figure, E> {
        Ok(Figure(None))
    }
    skip_seq!(Figure(None));
    skip_map!(Figure(None));
});

/// The overview keys read.
#[derive(Clone, Copy)]
enum OverviewKey {
    BudgetTopicActionMap,
}

impl KeyName for OverviewKey {
    fn from_key(key: &str) -> Option<Self> {
        (key == "budgetTopicActionMap").then_some(OverviewKey::BudgetTopicActionMap)
    }
}

/// The entry keys read.
#[derive(Clone, Copy)]
enum EntryKey {
    Action,
    ExpectedGrants,
    MinContribution,
    MaxContribution,
    BudgetYearMap,
}

impl KeyName for EntryKey {
    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "action" => EntryKey::Action,
            "expectedGrants" => EntryKey::ExpectedGrants,
            "minContribution" => EntryKey::MinContribution,
            "maxContribution" => EntryKey::MaxContribution,
            "budgetYearMap" => EntryKey::BudgetYearMap,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::test_support::{XorShift, fixture_texts};

    #[test]
    fn budget_from_overview_entries_of_the_topic() {
        let ov: Overview = serde_json::from_str(
            r#"{"budgetTopicActionMap":{
                "1":[{"action":"T-01 - RIA","expectedGrants":5,"minContribution":3000000,"maxContribution":"4000000","budgetYearMap":{"2026":"20000000"}}],
                "2":[{"action":"T-010 - RIA","expectedGrants":1,"budgetYearMap":{"2026":"1"}}],
                "3":[{"action":"C-01 - IA","expectedGrants":1,"budgetYearMap":{"2026":"99"}},
                     {"action":"C-02 - IA","expectedGrants":2,"budgetYearMap":{"2026":"99"}}]}}"#,
        )
        .unwrap();
        assert_eq!(
            budget_for(&ov, "T-01"),
            Some(Budget {
                total: Some(20_000_000.0),
                min_per_grant: Some(3_000_000.0),
                max_per_grant: Some(4_000_000.0),
                expected_grants: Some(5),
                currency: "EUR".into()
            })
        );
        let c = budget_for(&ov, "C-02").unwrap();
        assert_eq!((c.total, c.expected_grants), (None, Some(2)));
        assert_eq!(budget_for(&ov, "T-0"), None);
    }

    /// The previous `budget_for`, over a `Value`: the reference of the
    /// differential test.
    fn reference(overview: &Value, identifier: &str) -> Option<Budget> {
        fn number(v: &Value) -> Option<f64> {
            match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
        }
        fn year_total(entry: &Value) -> Option<f64> {
            let map = entry.get("budgetYearMap")?.as_object()?;
            let values: Vec<f64> = map.values().filter_map(number).collect();
            (!values.is_empty()).then(|| values.iter().sum())
        }
        let map = overview.get("budgetTopicActionMap")?.as_object()?;
        let prefix = format!("{identifier} ");
        let (ours, others): (Vec<&Value>, Vec<&Value>) = map
            .values()
            .filter_map(Value::as_array)
            .flatten()
            .partition(|e| {
                e.get("action")
                    .and_then(Value::as_str)
                    .is_some_and(|a| a.starts_with(&prefix))
            });
        if ours.is_empty() {
            return None;
        }
        let mut b = Budget {
            currency: "EUR".into(),
            ..Budget::default()
        };
        let mut grants: Option<u32> = None;
        let mut total: Option<f64> = None;
        for e in &ours {
            if let Some(g) = e.get("expectedGrants").and_then(number) {
                grants = Some(
                    grants
                        .unwrap_or(0)
                        .saturating_add(g.max(0.0).round() as u32),
                );
            }
            if let Some(m) = e.get("minContribution").and_then(number) {
                b.min_per_grant = Some(b.min_per_grant.map_or(m, |x: f64| x.min(m)));
            }
            if let Some(m) = e.get("maxContribution").and_then(number) {
                b.max_per_grant = Some(b.max_per_grant.map_or(m, |x: f64| x.max(m)));
            }
            if let Some(t) = year_total(e) {
                total = Some(total.unwrap_or(0.0) + t);
            }
        }
        let call_level = ours.iter().filter_map(|e| year_total(e)).any(|t| {
            others
                .iter()
                .filter_map(|o| year_total(o))
                .any(|o| (o - t).abs() < 0.5)
        });
        b.expected_grants = grants;
        b.total = if call_level { None } else { total };
        Some(b)
    }

    /// Both read `text` alike, for `identifiers`; whether it was JSON.
    fn agree(text: &str, identifiers: &[String]) -> bool {
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return false;
        };
        let typed: Overview = serde_json::from_str(text).unwrap();
        // A `Value` handed over as it is (the salvage path) reads alike too.
        let from_value = Overview::deserialize(value.clone()).unwrap();
        assert_eq!(typed, from_value, "{text}");
        for id in identifiers {
            assert_eq!(
                budget_for(&typed, id),
                reference(&value, id),
                "{id} in {text}"
            );
        }
        true
    }

    /// Every `budgetOverview` text of the fixtures' EU pages, with the
    /// row's identifier, those of its entries, and one that is in none.
    fn fixture_overviews() -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        for (_, text) in fixture_texts() {
            let Ok(page) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let Some(rows) = page.get("results").and_then(Value::as_array) else {
                continue;
            };
            for row in rows {
                let meta = &row["metadata"];
                let Some(ov) = meta["budgetOverview"][0].as_str() else {
                    continue;
                };
                let mut ids: Vec<String> = meta["identifier"][0]
                    .as_str()
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                if let Ok(v) = serde_json::from_str::<Value>(ov) {
                    let lists = v["budgetTopicActionMap"]
                        .as_object()
                        .into_iter()
                        .flat_map(|m| m.values());
                    for entry in lists.filter_map(Value::as_array).flatten() {
                        if let Some(a) = entry["action"].as_str() {
                            ids.extend(a.split(' ').next().map(str::to_owned));
                        }
                    }
                }
                ids.push("NOT-THERE".into());
                out.push((ov.to_owned(), ids));
            }
        }
        out
    }

    #[test]
    fn typed_overview_gives_the_budget_the_value_gave() {
        let cases = [
            r#"{"budgetTopicActionMap":{"2":[{"action":"A-1 - RIA","expectedGrants":"3","budgetYearMap":{"2027":5,"2026":"1.5","x":null,"2026":"2"}}],
               "1":[{"action":"A-1 - CSA","minContribution":-1,"maxContribution":1e3,"budgetYearMap":{"2026":2}},7,"s",null,[1],
                    {"action":"B-2 - IA","budgetYearMap":{"2026":2}}],"3":{"a":1},"4":"x"},"other":[{"budgetTopicActionMap":1}]}"#,
            r#"{"budgetTopicActionMap":{"1":[{"action":"A-1 - RIA","budgetYearMap":[1]}]},"budgetTopicActionMap":{"1":[{"action":"A-1 x","expectedGrants":1e20,"expectedGrants":4000000000}, {"action":"A-1 y","expectedGrants":4000000000}]}}"#,
            r#"{"budgetTopicActionMap":[]}"#,
            r#"[{"budgetTopicActionMap":{}}]"#,
            r#"{"budgetTopicActionMap":{"1":[{"\u0061ction":"A-1 - RIA","expectedGrants":2}]}}"#,
            "7",
        ];
        let ids = ["A-1".to_owned(), "B-2".to_owned(), "A".to_owned()];
        for case in cases {
            assert!(agree(case, &ids), "{case}");
        }
        let fixtures = fixture_overviews();
        assert!(
            fixtures.len() >= 4,
            "only {} overviews in the fixtures",
            fixtures.len()
        );
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
            "\"9000000\"",
            "{\"2026\":3}",
            "\"action\":\"X-1 - RIA\",",
        ];
        let mut rng = XorShift(0xB0D6_E701);
        let mut read = 0;
        for (text, ids) in &fixtures {
            agree(text, ids);
            for _ in 0..400 {
                let mut damaged = text.as_bytes().to_vec();
                let at = (rng.next() % damaged.len() as u64) as usize;
                let end = (at + (rng.next() % 6) as usize).min(damaged.len());
                damaged.splice(at..end, rng.pick(TOKENS).bytes());
                let Ok(damaged) = String::from_utf8(damaged) else {
                    continue;
                };
                if agree(&damaged, ids) {
                    read += 1;
                }
            }
        }
        assert!(read >= 200, "only {read} damaged overviews were read");
        eprintln!("{} overviews, {read} damaged copies read", fixtures.len());
    }
}

//! `/api/openapi.json` is a contract, and this property-based fuzzer holds the server to it.
//!
//! It reads the document from a running server and, for every operation, sends generated
//! requests — valid ones (bodies, parameters and paths drawn from the schemas, constraints
//! included, with real ids of a workspace, post, comment, version, invitation, members), and
//! invalid ones (one constraint broken, wrong types, missing or extra fields, malformed JSON,
//! the wrong content type, random and malformed ids, missing and bad credentials) — as
//! several people (a workspace admin, a client, an outsider, a super admin). Every answer is
//! checked against the document:
//!
//! - its status is one the operation documents;
//! - its body matches the documented schema for that status (a small JSON Schema validator:
//!   `$ref`, `allOf`/`oneOf`/`anyOf`, types, `required`, `enum`, lengths, `pattern`, ranges,
//!   item and property counts, `additionalProperties`, `propertyNames`, uuid/date-time
//!   formats); errors have the `{"error": {"code", "message"}}` shape; 429s carry `Retry-After`;
//! - a request that breaks a documented constraint is refused (4xx);
//! - a request without valid credentials on a protected operation answers 401;
//! - a request the document calls valid is never refused for its shape (`malformed_json`,
//!   `invalid_body`, `invalid_query`) nor for a field's constraint, except the rules no schema
//!   can say ([`semantic_fields`]: a parent on another post, a status transition, ...);
//! - text with U+0000 is refused with 400 (the document says so);
//! - nothing answers 5xx: 500 is documented (the database can fail), but a healthy server
//!   that answers it to a request has a bug.
//!
//! It also checks that undeclared methods on known paths answer 405 with `Allow` listing the
//! declared ones, that unknown paths answer 404, and that too-large bodies answer 413.
//! Requests that change the fixtures (sign-outs, password and role changes) are followed by
//! repairs, and destructive ones get throwaway targets, so the run keeps reaching 2xx. The
//! documented statuses a run did not provoke are printed (not an error).
//!
//! Randomness is seeded: the seed is printed, `COPYDESK_FUZZ_SEED=<n>` replays a run's
//! choices and `COPYDESK_FUZZ_CASES=<n>` sets the requests per operation (default 20, about
//! 1,400 requests in all).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use proptest::prelude::RngExt;
use proptest::strategy::{Strategy, ValueTree};
use proptest::string::{string_regex, RegexGeneratorStrategy};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use regex::Regex;
use reqwest::header::HeaderMap;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::helpers::*;

// ---------------------------------------------------------------------------------------
// The document.

struct Doc(Value);

impl Doc {
    fn resolve<'a>(&'a self, mut s: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    s = self
                        .0
                        .pointer(r.trim_start_matches('#'))
                        .unwrap_or_else(|| panic!("dangling $ref {r}"))
                }
                None => break,
            }
        }
        s
    }
}

#[derive(Clone)]
struct Param {
    name: String,
    location: String,
    required: bool,
    schema: Value,
}

#[derive(Clone)]
struct Op {
    method: String,
    path: String,
    params: Vec<Param>,
    body: Option<Value>,
    secured: bool,
    /// Status → the (resolved) response object.
    responses: BTreeMap<u16, Value>,
}

impl Op {
    fn key(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn operations(doc: &Doc) -> Vec<Op> {
    let mut out = Vec::new();
    for (path, item) in doc.0["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let params = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let p = doc.resolve(p);
                    Param {
                        name: p["name"].as_str().unwrap().to_string(),
                        location: p["in"].as_str().unwrap().to_string(),
                        required: p["required"].as_bool().unwrap_or(false),
                        schema: p["schema"].clone(),
                    }
                })
                .collect();
            let body = op
                .get("requestBody")
                .map(|b| doc.resolve(b)["content"]["application/json"]["schema"].clone());
            let secured = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            });
            let responses = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, r)| (k.parse().expect("numeric status"), doc.resolve(r).clone()))
                .collect();
            out.push(Op {
                method: method.to_string(),
                path: path.clone(),
                params,
                body,
                secured,
                responses,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// A JSON Schema subset validator.

#[derive(Default)]
struct Validator {
    regexes: HashMap<String, Regex>,
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => true,
    }
}

fn types_of(s: &Value) -> Vec<String> {
    match &s["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

impl Validator {
    fn regex(&mut self, p: &str) -> &Regex {
        self.regexes
            .entry(p.to_string())
            .or_insert_with(|| Regex::new(p).unwrap_or_else(|e| panic!("pattern {p}: {e}")))
    }

    fn errors(&mut self, doc: &Doc, schema: &Value, v: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        self.check(doc, schema, v, "$", &mut errs);
        errs
    }

    fn ok(&mut self, doc: &Doc, schema: &Value, v: &Value) -> bool {
        self.errors(doc, schema, v).is_empty()
    }

    fn check(&mut self, doc: &Doc, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
        let s = doc.resolve(schema);
        if let Some(parts) = s["allOf"].as_array() {
            for p in parts {
                self.check(doc, p, v, at, errs);
            }
        }
        if let Some(parts) = s["oneOf"].as_array() {
            let n = parts.iter().filter(|p| self.ok(doc, p, v)).count();
            if n != 1 {
                errs.push(format!(
                    "{at}: matches {n} branches of oneOf, not 1: {}",
                    short(v)
                ));
            }
        }
        if let Some(parts) = s["anyOf"].as_array() {
            if !parts.iter().any(|p| self.ok(doc, p, v)) {
                errs.push(format!("{at}: matches no branch of anyOf: {}", short(v)));
            }
        }
        let types = types_of(s);
        if !types.is_empty() && !types.iter().any(|t| type_ok(t, v)) {
            errs.push(format!("{at}: expected {types:?}, got {}", short(v)));
            return;
        }
        if let Some(e) = s["enum"].as_array() {
            if !e.contains(v) {
                errs.push(format!(
                    "{at}: {} is not one of {}",
                    short(v),
                    short(&s["enum"])
                ));
            }
        }
        if let Some(c) = s.get("const") {
            if c != v {
                errs.push(format!("{at}: {} is not {c}", short(v)));
            }
        }
        match v {
            Value::String(st) => {
                let n = st.chars().count() as u64;
                if s["minLength"].as_u64().is_some_and(|m| n < m) {
                    errs.push(format!("{at}: shorter than minLength {}", s["minLength"]));
                }
                if s["maxLength"].as_u64().is_some_and(|m| n > m) {
                    errs.push(format!("{at}: longer than maxLength {}", s["maxLength"]));
                }
                if let Some(p) = s["pattern"].as_str() {
                    if !self.regex(p).is_match(st) {
                        errs.push(format!("{at}: {} does not match {p}", short(v)));
                    }
                }
                let format_ok = match s["format"].as_str() {
                    Some("uuid") => Uuid::parse_str(st).is_ok(),
                    Some("date-time") => chrono::DateTime::parse_from_rfc3339(st).is_ok(),
                    Some("email") => st.contains('@'),
                    _ => true,
                };
                if !format_ok {
                    errs.push(format!("{at}: {} is not a {}", short(v), s["format"]));
                }
            }
            Value::Number(num) => {
                let f = num.as_f64().unwrap_or_default();
                if s["minimum"].as_f64().is_some_and(|m| f < m) {
                    errs.push(format!("{at}: {f} below minimum {}", s["minimum"]));
                }
                if s["maximum"].as_f64().is_some_and(|m| f > m) {
                    errs.push(format!("{at}: {f} above maximum {}", s["maximum"]));
                }
            }
            Value::Array(items) => {
                let n = items.len() as u64;
                if s["minItems"].as_u64().is_some_and(|m| n < m) {
                    errs.push(format!("{at}: fewer than minItems {}", s["minItems"]));
                }
                if s["maxItems"].as_u64().is_some_and(|m| n > m) {
                    errs.push(format!("{at}: more than maxItems {}", s["maxItems"]));
                }
                if let Some(item) = s.get("items") {
                    for (i, x) in items.iter().enumerate() {
                        self.check(doc, item, x, &format!("{at}[{i}]"), errs);
                    }
                }
            }
            Value::Object(o) => {
                for r in s["required"].as_array().into_iter().flatten() {
                    if let Some(r) = r.as_str() {
                        if !o.contains_key(r) {
                            errs.push(format!("{at}: missing required {r}"));
                        }
                    }
                }
                let n = o.len() as u64;
                if s["maxProperties"].as_u64().is_some_and(|m| n > m) {
                    errs.push(format!(
                        "{at}: more than maxProperties {}",
                        s["maxProperties"]
                    ));
                }
                let props = s["properties"].as_object();
                for (k, x) in o {
                    let here = format!("{at}.{k}");
                    if let Some(names) = s.get("propertyNames") {
                        self.check(
                            doc,
                            names,
                            &Value::String(k.clone()),
                            &format!("{here} (name)"),
                            errs,
                        );
                    }
                    match props.and_then(|p| p.get(k)) {
                        Some(ps) => self.check(doc, ps, x, &here, errs),
                        None => match s.get("additionalProperties") {
                            Some(Value::Bool(false)) => errs.push(format!("{here}: not allowed")),
                            Some(ap) if ap.is_object() => self.check(doc, ap, x, &here, errs),
                            _ => {}
                        },
                    }
                }
            }
            _ => {}
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------
// Generation: valid values from schemas, and values that break exactly one rule.

struct Gen {
    runner: TestRunner,
    regexes: HashMap<String, Option<RegexGeneratorStrategy<String>>>,
    counter: u64,
}

/// Strings that break the usual patterns in a way every check of the server also refuses
/// (no http prefix, spaces, a `|`, nothing but a blank).
const PATTERN_BREAKERS: [&str; 5] = ["zz!! ~", "a b", "a|b", " ", "Zz--"];

impl Gen {
    fn new(seed: u64) -> Self {
        let rng = TestRng::from_seed(
            RngAlgorithm::ChaCha,
            &[seed.to_le_bytes(), seed.to_be_bytes(), [7; 8], [9; 8]].concat(),
        );
        Self {
            runner: TestRunner::new_with_rng(Config::default(), rng),
            regexes: HashMap::new(),
            counter: 0,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.runner.rng().random_range(0..n)
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.runner.rng().random_bool(p)
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }

    fn uuid(&mut self) -> String {
        let hi: u64 = self.runner.rng().random();
        let lo: u64 = self.runner.rng().random();
        uuid::Builder::from_random_bytes(((hi as u128) << 64 | lo as u128).to_le_bytes())
            .into_uuid()
            .to_string()
    }

    fn unique(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Random text: mostly ASCII, with accents, CJK, emoji and the odd space.
    fn text(&mut self, len: usize, ascii_only: bool) -> String {
        const POOL: [char; 12] = ['a', 'Z', '7', '-', '_', '.', 'é', '中', '🚀', 'ß', ' ', '#'];
        (0..len)
            .map(|i| {
                if ascii_only || self.chance(0.7) {
                    let b = b"abcdefghijklmnopqrstuvwxyz0123456789"[self.below(36)];
                    b as char
                } else {
                    let c = self.pick(&POOL);
                    // No blank at either end: trimming would change the length.
                    if c == ' ' && (i == 0 || i + 1 == len) {
                        'x'
                    } else {
                        c
                    }
                }
            })
            .collect()
    }

    /// A string matching `pattern` (anchors are implied by the generator; an unanchored end
    /// gets a short ASCII tail, an unanchored start a short ASCII head).
    fn matching(&mut self, pattern: &str) -> Option<String> {
        let (core, head, tail) = {
            let start = pattern.starts_with('^');
            let end = pattern.ends_with('$') && !pattern.ends_with("\\$");
            let core = &pattern[usize::from(start)..pattern.len() - usize::from(end)];
            (core.to_string(), !start, !end)
        };
        if !self.regexes.contains_key(&core) {
            let s = string_regex(&core).ok();
            self.regexes.insert(core.clone(), s);
        }
        let strategy = self.regexes.get(&core)?.as_ref()?;
        // No U+0000: the document says no text may contain it.
        let mut s = strategy
            .new_tree(&mut self.runner)
            .ok()?
            .current()
            .replace('\0', "x");
        if head {
            let n = self.below(3);
            s = format!("{}{s}", self.text(n, true));
        }
        if tail {
            let n = self.below(8);
            s = format!("{s}{}", self.text(n, true));
        }
        Some(s)
    }

    /// A length in `[min, max]`, often at a bound.
    fn length(&mut self, min: usize, max: usize) -> usize {
        let max = max.max(min);
        match self.below(10) {
            0 | 1 => min,
            2 | 3 if max <= 100_000 => max,
            _ => min + self.below((max - min).min(40) + 1),
        }
    }

    /// A value valid for `schema`, trying `hints` first for a named property.
    fn valid(
        &mut self,
        doc: &Doc,
        v: &mut Validator,
        schema: &Value,
        hints: &Hints,
        name: Option<&str>,
    ) -> Value {
        if let Some(candidates) = name.and_then(|n| hints.get(n)) {
            if !candidates.is_empty() && self.chance(0.8) {
                let c = self.pick(candidates);
                if v.ok(doc, schema, &c) {
                    return c;
                }
            }
        }
        let mut last = Value::Null;
        for _ in 0..12 {
            last = self.valid_once(doc, v, schema, hints);
            if v.ok(doc, schema, &last) {
                return last;
            }
        }
        last
    }

    fn valid_once(&mut self, doc: &Doc, v: &mut Validator, schema: &Value, hints: &Hints) -> Value {
        let s = doc.resolve(schema).clone();
        if let Some(parts) = s["oneOf"].as_array().or(s["anyOf"].as_array()) {
            let non_null: Vec<&Value> = parts.iter().filter(|p| p["type"] != "null").collect();
            if non_null.len() < parts.len() && self.chance(0.15) || non_null.is_empty() {
                return Value::Null;
            }
            let p = non_null[self.below(non_null.len())].clone();
            return self.valid_once(doc, v, &p, hints);
        }
        if let Some(parts) = s["allOf"].as_array() {
            let mut out = Map::new();
            for p in parts {
                if let Value::Object(o) = self.valid_once(doc, v, p, hints) {
                    out.extend(o);
                }
            }
            return Value::Object(out);
        }
        if let Some(e) = s["enum"].as_array() {
            let non_null: Vec<Value> = e.iter().filter(|x| !x.is_null()).cloned().collect();
            if non_null.is_empty() || e.len() > non_null.len() && self.chance(0.1) {
                return Value::Null;
            }
            return self.pick(&non_null);
        }
        let types = types_of(&s);
        let nullable = types.iter().any(|t| t == "null");
        let non_null: Vec<String> = types.into_iter().filter(|t| t != "null").collect();
        if non_null.is_empty() || nullable && self.chance(0.1) {
            return if non_null.is_empty() && s.get("properties").is_some() {
                self.object(doc, v, &s, hints)
            } else {
                Value::Null
            };
        }
        match self.pick(&non_null).as_str() {
            "string" => Value::String(self.string(&s)),
            "integer" => {
                let min = s["minimum"].as_i64().unwrap_or(0);
                let max = s["maximum"].as_i64().unwrap_or(min + 1000);
                let n = match self.below(4) {
                    0 => min,
                    1 => max,
                    _ => min + self.below((max - min) as usize + 1) as i64,
                };
                json!(n)
            }
            "number" => json!(self.below(1000) as f64 / 7.0),
            "boolean" => json!(self.chance(0.5)),
            "array" => {
                let min = s["minItems"].as_u64().unwrap_or(0) as usize;
                let max = s["maxItems"].as_u64().map(|m| m as usize);
                let n = match max {
                    Some(m) if m <= 50 && self.chance(0.1) => m,
                    Some(m) => min + self.below(m.min(min + 3) - min + 1),
                    None => min + self.below(4),
                };
                let item = s.get("items").cloned().unwrap_or(json!({}));
                Value::Array(
                    (0..n)
                        .map(|_| self.valid(doc, v, &item, hints, None))
                        .collect(),
                )
            }
            "object" => self.object(doc, v, &s, hints),
            _ => Value::Null,
        }
    }

    fn object(&mut self, doc: &Doc, v: &mut Validator, s: &Value, hints: &Hints) -> Value {
        let mut out = Map::new();
        let required: BTreeSet<&str> = s["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if let Some(props) = s["properties"].as_object() {
            for (k, ps) in props {
                if required.contains(k.as_str()) || self.chance(0.5) {
                    let x = self.valid(doc, v, ps, hints, Some(k));
                    out.insert(k.clone(), x);
                }
            }
        }
        if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
            let max = s["maxProperties"].as_u64().unwrap_or(3).min(3) as usize;
            let names = doc.resolve(&s["propertyNames"]).clone();
            for _ in 0..self.below(max + 1) {
                let key = match names["enum"].as_array() {
                    Some(e) => self.pick(e).as_str().unwrap_or("k").to_string(),
                    None => {
                        let n = 1 + self.below(12);
                        self.text(n, true)
                    }
                };
                let x = self.valid(doc, v, ap, hints, None);
                out.insert(key, x);
            }
        }
        Value::Object(out)
    }

    fn string(&mut self, s: &Value) -> String {
        match s["format"].as_str() {
            Some("uuid") => return self.uuid(),
            Some("date-time") => {
                return format!(
                    "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    20 + self.below(10),
                    1 + self.below(12),
                    1 + self.below(28),
                    self.below(24),
                    self.below(60),
                    self.below(60)
                )
            }
            Some("email") => {
                return format!("fz{}-{}@example.com", self.unique(), self.below(1_000_000))
            }
            _ => {}
        }
        if let Some(p) = s["pattern"].as_str() {
            if let Some(x) = self.matching(p) {
                return x;
            }
        }
        if let Some(e) = s.get("example").and_then(Value::as_str) {
            if self.chance(0.3) {
                return e.to_string();
            }
        }
        let min = s["minLength"].as_u64().unwrap_or(0) as usize;
        let max = s["maxLength"]
            .as_u64()
            .map(|m| m as usize)
            .unwrap_or(min + 40);
        let n = self.length(min, max);
        self.text(n, false)
    }

    /// `value` (valid for `schema`) with one rule broken somewhere; `None` when nothing in it
    /// has a rule to break.
    fn invalid(
        &mut self,
        doc: &Doc,
        v: &mut Validator,
        schema: &Value,
        value: &Value,
    ) -> Option<(Value, String)> {
        let mut sites = Vec::new();
        collect_sites(doc, schema, value, String::new(), &mut sites);
        for _ in 0..24 {
            if sites.is_empty() {
                return None;
            }
            let (ptr, s) = sites[self.below(sites.len())].clone();
            let current = value.pointer(&ptr).cloned().unwrap_or(Value::Null);
            let Some((edit, what)) = self.break_one(doc, v, &s, &current) else {
                continue;
            };
            let mut out = value.clone();
            match edit {
                Edit::Replace(x) => {
                    if ptr.is_empty() {
                        out = x;
                    } else if let Some(t) = out.pointer_mut(&ptr) {
                        *t = x;
                    }
                }
                Edit::Remove(k) => {
                    if let Some(o) = out.pointer_mut(&ptr).and_then(Value::as_object_mut) {
                        o.remove(&k);
                    }
                }
                Edit::Insert(k, x) => {
                    if let Some(o) = out.pointer_mut(&ptr).and_then(Value::as_object_mut) {
                        o.insert(k, x);
                    }
                }
            }
            if !v.ok(doc, schema, &out) {
                return Some((
                    out,
                    format!("{what} at {}", if ptr.is_empty() { "/" } else { &ptr }),
                ));
            }
        }
        None
    }

    fn break_one(
        &mut self,
        doc: &Doc,
        v: &mut Validator,
        s: &Value,
        current: &Value,
    ) -> Option<(Edit, String)> {
        let mut options: Vec<(Edit, String)> = Vec::new();
        let types = types_of(s);
        // A value of another type (where the schema says which types).
        if !types.is_empty() || s["oneOf"].is_array() {
            for wrong in [
                json!(12345),
                json!("zz"),
                json!(true),
                json!([1]),
                json!({ "zz": 1 }),
                Value::Null,
            ] {
                if !v.ok(doc, s, &wrong) {
                    options.push((Edit::Replace(wrong.clone()), format!("wrong type {wrong}")));
                    break;
                }
            }
        }
        if s["enum"].is_array() {
            let n = self.below(1000);
            options.push((
                Edit::Replace(json!(format!("zz-{n}"))),
                "not in enum".into(),
            ));
        }
        if current.is_string() || types.iter().any(|t| t == "string") {
            if let Some(min) = s["minLength"].as_u64().filter(|m| *m > 0) {
                options.push((
                    Edit::Replace(json!("a".repeat(min as usize - 1))),
                    format!("shorter than {min}"),
                ));
            }
            if let Some(max) = s["maxLength"].as_u64().filter(|m| *m <= 200_000) {
                let n = max as usize + 1;
                options.push((
                    Edit::Replace(json!(self.text(n, true))),
                    format!("longer than {max}"),
                ));
            }
            if let Some(p) = s["pattern"].as_str() {
                let p = p.to_string();
                if let Some(b) = PATTERN_BREAKERS.iter().find(|b| !v.regex(&p).is_match(b)) {
                    options.push((Edit::Replace(json!(b)), format!("not matching {p}")));
                }
            }
            match s["format"].as_str() {
                Some("uuid") => {
                    options.push((Edit::Replace(json!("not-a-uuid")), "not a uuid".into()))
                }
                Some("date-time") => {
                    options.push((Edit::Replace(json!("yesterday")), "not a date-time".into()))
                }
                Some("email") => {
                    options.push((Edit::Replace(json!("zz!! ~")), "not an email".into()))
                }
                _ => {}
            }
        }
        if let Some(min) = s["minimum"].as_i64() {
            options.push((Edit::Replace(json!(min - 1)), format!("below {min}")));
        }
        if let Some(max) = s["maximum"].as_i64() {
            options.push((Edit::Replace(json!(max + 1)), format!("above {max}")));
        }
        if let (Some(max), Some(item)) =
            (s["maxItems"].as_u64().filter(|m| *m <= 200), s.get("items"))
        {
            let item = doc.resolve(item).clone();
            let items: Vec<Value> = (0..=max)
                .map(|i| {
                    if types_of(&item).iter().any(|t| t == "string")
                        && item["format"].is_null()
                        && item["enum"].is_null()
                    {
                        json!(format!("i{i}"))
                    } else {
                        self.valid(doc, v, &item, &Hints::new(), None)
                    }
                })
                .collect();
            options.push((
                Edit::Replace(Value::Array(items)),
                format!("more than {max} items"),
            ));
        }
        if let Value::Object(o) = current {
            if let Some(max) = s["maxProperties"].as_u64().filter(|m| *m <= 200) {
                let ap = s["additionalProperties"].clone();
                let mut m = Map::new();
                for i in 0..=max {
                    m.insert(
                        format!("k{i}"),
                        self.valid(doc, v, &ap, &Hints::new(), None),
                    );
                }
                options.push((
                    Edit::Replace(Value::Object(m)),
                    format!("more than {max} properties"),
                ));
            }
            if let Some(names) = s.get("propertyNames") {
                let names = doc.resolve(names).clone();
                let ap = s["additionalProperties"].clone();
                let key = if names["enum"].is_array() {
                    Some(format!("zz-{}", self.below(1000)))
                } else {
                    names["maxLength"]
                        .as_u64()
                        .map(|m| "k".repeat(m as usize + 1))
                };
                if let Some(key) = key {
                    let x = self.valid(doc, v, &ap, &Hints::new(), None);
                    options.push((Edit::Insert(key, x), "a property name out of bounds".into()));
                }
            }
            if s["additionalProperties"] == json!(false) {
                options.push((
                    Edit::Insert("zz_extra".into(), json!(1)),
                    "an unknown property".into(),
                ));
            }
            let present: Vec<String> = s["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|r| o.contains_key(*r))
                .map(String::from)
                .collect();
            if !present.is_empty() {
                let r = self.pick(&present);
                options.push((Edit::Remove(r.clone()), format!("required {r} missing")));
            }
        }
        if options.is_empty() {
            return None;
        }
        let i = self.below(options.len());
        Some(options.swap_remove(i))
    }
}

enum Edit {
    Replace(Value),
    Remove(String),
    Insert(String, Value),
}

type Hints = HashMap<String, Vec<Value>>;

/// Every place in `value` with the schema that governs it (for a `oneOf [null, X]` that is
/// not null, `X`'s rules inside and the `oneOf` itself at the place).
fn collect_sites(
    doc: &Doc,
    schema: &Value,
    value: &Value,
    ptr: String,
    out: &mut Vec<(String, Value)>,
) {
    let s = doc.resolve(schema).clone();
    out.push((ptr.clone(), s.clone()));
    let branch = match s["oneOf"].as_array() {
        Some(parts) if !value.is_null() => parts
            .iter()
            .find(|p| p["type"] != "null")
            .map(|p| doc.resolve(p).clone())
            .unwrap_or(s.clone()),
        _ => s.clone(),
    };
    if branch != s {
        // Rules of the branch, checked against the whole `oneOf` by the caller.
        let mut inner = Vec::new();
        collect_sites(doc, &branch, value, ptr.clone(), &mut inner);
        out.extend(inner);
        return;
    }
    match value {
        Value::Object(o) => {
            let props = s["properties"].as_object();
            for (k, x) in o {
                let sub = props.and_then(|p| p.get(k)).cloned().or_else(|| {
                    s.get("additionalProperties")
                        .filter(|a| a.is_object())
                        .cloned()
                });
                if let Some(sub) = sub {
                    collect_sites(
                        doc,
                        &sub,
                        x,
                        format!("{ptr}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = s.get("items") {
                for (i, x) in items.iter().enumerate() {
                    collect_sites(doc, item, x, format!("{ptr}/{i}"), out);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Requests.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Actor {
    Root,
    Admin,
    Client,
    Outsider,
    Scratch,
}

#[derive(Clone, Debug)]
enum Auth {
    None,
    As(Actor),
    /// An `Authorization` header that is not a valid credential.
    Header(String),
    /// The access token of a session that has ended.
    Revoked(String),
}

#[derive(Clone, Debug)]
enum Body {
    None,
    Json(Value),
    Raw(String, &'static str),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Valid,
    BadBody,
    BadParam,
    NoAuth,
    BadAuth,
    Malformed,
    WrongContentType,
    /// Text with U+0000 in it, which the document says is refused.
    Nul,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

/// Fields a schema-valid request may still be refused for, because the rule needs the
/// database or the request's other fields: `(method, path) → fields of validation_failed`.
fn semantic_fields(method: &str, path: &str) -> &'static [&'static str] {
    match (method, path) {
        ("post", "/api/posts/{id}/comments") => &["parent_id", "visibility", "anchor", "mentions"],
        ("put", "/api/comments/{id}") => &["mentions"],
        ("put", "/api/posts/{id}")
        | ("post", "/api/workspaces/{id}/posts")
        | ("post", "/api/workspaces/{id}/posts/validate") => &["status"],
        ("put", "/api/users/profile") => &["current_password"],
        // At most 20 different reactions per person on one comment.
        ("put", "/api/comments/{id}/reactions/{emoji}") => &["emoji"],
        // Cursors are opaque: any well-formed one may be stale or of another sort.
        ("get", "/api/workspaces/{id}/posts") | ("get", "/api/workspaces/{id}/activity") => {
            &["cursor"]
        }
        ("get", "/api/workspaces/{id}/webhooks/{endpoint_id}/messages") => &["before"],
        ("get", "/api/notifications") => &["before"],
        // Approvers and backups must be members who may approve; reassigning needs a backup.
        ("post", "/api/workspaces/{id}/approval-workflows")
        | ("put", "/api/approval-workflows/{id}") => &["steps"],
        // The posts must be this workspace's.
        ("post", "/api/workspaces/{id}/share-links") => &["post_ids"],
        _ => &[],
    }
}

/// Codes that mean "the request's shape is wrong": never for a request the document calls valid.
const SHAPE_CODES: [&str; 4] = [
    "malformed_json",
    "invalid_body",
    "unsupported_content_type",
    "invalid_query",
];

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// How the server reads parameter text: a number where the schema wants an integer.
fn as_param(doc: &Doc, schema: &Value, text: &str) -> Value {
    let wants_integer = types_of(doc.resolve(schema)).iter().any(|t| t == "integer");
    match text.parse::<i64>() {
        Ok(n) if wants_integer => json!(n),
        _ => Value::String(text.to_string()),
    }
}

fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct Fixtures {
    root: Session,
    admin: Session,
    client: Session,
    outsider: Session,
    scratch: Session,
    /// Current passwords (a fuzzed profile update may change one).
    passwords: HashMap<String, String>,
    ws: String,
    post: String,
    comment: String,
    reply: String,
    version: String,
    invitation: String,
    /// Access tokens of sessions that have ended.
    revoked: Vec<String>,
    /// An account only the login fuzzing signs in to (its failures get it throttled).
    login_target: String,
}

struct Fuzzer {
    app: TestApp,
    doc: Doc,
    gen: Gen,
    v: Validator,
    fx: Fixtures,
    requests: u64,
    failures: Vec<String>,
    seen: BTreeMap<String, BTreeSet<u16>>,
    statuses: BTreeMap<u16, u64>,
}

impl Fuzzer {
    fn session(&self, a: Actor) -> &Session {
        match a {
            Actor::Root => &self.fx.root,
            Actor::Admin => &self.fx.admin,
            Actor::Client => &self.fx.client,
            Actor::Outsider => &self.fx.outsider,
            Actor::Scratch => &self.fx.scratch,
        }
    }

    fn session_mut(&mut self, a: Actor) -> &mut Session {
        match a {
            Actor::Root => &mut self.fx.root,
            Actor::Admin => &mut self.fx.admin,
            Actor::Client => &mut self.fx.client,
            Actor::Outsider => &mut self.fx.outsider,
            Actor::Scratch => &mut self.fx.scratch,
        }
    }

    fn password(&self, a: Actor) -> String {
        let e = &self.session(a).email;
        self.fx
            .passwords
            .get(e)
            .cloned()
            .unwrap_or_else(|| PASSWORD.into())
    }

    async fn send(&mut self, method: &str, url_path: &str, auth: &Auth, body: &Body) -> Answer {
        self.requests += 1;
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut rq = self.app.client.request(m, self.app.url(url_path));
        match auth {
            Auth::None => {}
            Auth::As(a) => rq = rq.bearer_auth(&self.session(*a).access),
            Auth::Header(h) => rq = rq.header("authorization", h.as_str()),
            Auth::Revoked(t) => rq = rq.bearer_auth(t),
        }
        match body {
            Body::None => {}
            Body::Json(v) => {
                rq = rq
                    .header("content-type", "application/json")
                    .body(v.to_string())
            }
            Body::Raw(text, ct) => rq = rq.header("content-type", *ct).body(text.clone()),
        }
        let r = rq
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url_path}: {e}"));
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        *self.statuses.entry(status).or_default() += 1;
        Answer {
            status,
            headers,
            text,
        }
    }

    fn fail(&mut self, msg: String) {
        if self.failures.len() < 5_000 {
            self.failures.push(msg);
        }
    }

    /// Checks an answer against what `op` documents; returns the parsed JSON body.
    fn check_answer(&mut self, op: &Op, what: &str, a: &Answer) -> Value {
        let key = op.key();
        self.seen.entry(key.clone()).or_default().insert(a.status);
        let body: Value = serde_json::from_str(&a.text).unwrap_or(Value::Null);
        let Some(resp) = op.responses.get(&a.status) else {
            self.fail(format!(
                "{key} → {} is not documented ({what}); body {}",
                a.status,
                short(&body)
            ));
            return body;
        };
        match resp["content"]
            .as_object()
            .and_then(|c| c.get("application/json"))
        {
            Some(media) => {
                let ct = a
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !ct.starts_with("application/json") {
                    self.fail(format!(
                        "{key} → {}: content-type {ct:?}, documented application/json ({what})",
                        a.status
                    ));
                }
                if let Err(e) = serde_json::from_str::<Value>(&a.text) {
                    self.fail(format!(
                        "{key} → {}: body is not JSON ({e}) ({what})",
                        a.status
                    ));
                } else {
                    let mut errs = self.v.errors(&self.doc, &media["schema"], &body);
                    errs.truncate(3);
                    if !errs.is_empty() {
                        self.fail(format!(
                            "{key} → {}: body does not match the schema ({what}): {errs:?}",
                            a.status
                        ));
                    }
                }
            }
            // Another documented media type (e.g. the unsubscribe page's text/html): the
            // answer must have it.
            None if resp["content"].as_object().is_some_and(|c| !c.is_empty()) => {
                let ct = a
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let documented = resp["content"].as_object().unwrap();
                if !documented.keys().any(|m| ct.starts_with(m.as_str())) {
                    self.fail(format!(
                        "{key} → {}: content-type {ct:?}, documented {:?} ({what})",
                        a.status,
                        documented.keys().collect::<Vec<_>>()
                    ));
                }
            }
            None => {
                if !a.text.is_empty() {
                    self.fail(format!(
                        "{key} → {}: documented without a body, got {:?}",
                        a.status,
                        a.text.chars().take(100).collect::<String>()
                    ));
                }
            }
        }
        if a.status >= 400 {
            let ok = body["error"]["code"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
                && body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty());
            if !ok {
                self.fail(format!(
                    "{key} → {}: not the error shape ({what}): {}",
                    a.status,
                    short(&body)
                ));
            }
        }
        if a.status == 429 && a.headers.get("retry-after").is_none() {
            self.fail(format!("{key} → 429 without Retry-After"));
        }
        body
    }

    /// A value for path parameter `name` of `op` that exists (creating a throwaway for
    /// operations that destroy it).
    async fn real_id(&mut self, op: &Op, name: &str) -> String {
        let (m, p) = (op.method.as_str(), op.path.as_str());
        let throwaway = match (m, p, name) {
            ("delete", "/api/workspaces/{id}", "id") => {
                self.throwaway("/api/workspaces", json!({ "name": "Doomed" }), "/id")
                    .await
            }
            ("delete", "/api/posts/{id}", "id") => {
                let ws = self.fx.ws.clone();
                self.throwaway(
                    &format!("/api/workspaces/{ws}/posts"),
                    json!({ "title": "Doomed", "client_visible": true }),
                    "/id",
                )
                .await
            }
            ("delete", "/api/comments/{id}", "id") => {
                let post = self.fx.post.clone();
                self.throwaway(
                    &format!("/api/posts/{post}/comments"),
                    json!({ "body": "doomed", "visibility": "client" }),
                    "/id",
                )
                .await
            }
            ("delete", _, "invitation_id") => {
                let (ws, e) = (self.fx.ws.clone(), email("fz-doomed"));
                self.throwaway(
                    &format!("/api/workspaces/{ws}/members"),
                    json!({ "email": e, "role": "reviewer" }),
                    "/invitation/id",
                )
                .await
            }
            _ => None,
        };
        if let Some(id) = throwaway {
            return id;
        }
        let fx = &self.fx;
        match name {
            "id" if p.starts_with("/api/workspaces") => fx.ws.clone(),
            "id" if p.starts_with("/api/posts") => fx.post.clone(),
            "id" if p.starts_with("/api/comments") => {
                let c = [fx.comment.clone(), fx.reply.clone()];
                self.gen.pick(&c)
            }
            "version_id" => fx.version.clone(),
            "invitation_id" => fx.invitation.clone(),
            "user_id" => {
                let u = [
                    fx.client.user_id.clone(),
                    fx.admin.user_id.clone(),
                    fx.outsider.user_id.clone(),
                ];
                self.gen.pick(&u)
            }
            _ => self.gen.uuid(),
        }
    }

    async fn throwaway(&mut self, path: &str, body: Value, id_at: &str) -> Option<String> {
        let a = self
            .send("post", path, &Auth::As(Actor::Admin), &Body::Json(body))
            .await;
        let b: Value = serde_json::from_str(&a.text).ok()?;
        b.pointer(id_at)?.as_str().map(String::from)
    }

    fn hints(&mut self, op: &Op, actor: Actor) -> Hints {
        let current = self.password(actor);
        let fx = &self.fx;
        let mut h = Hints::new();
        let login = op.path == "/api/auth/login";
        let e = if login {
            fx.login_target.clone()
        } else {
            email("fz")
        };
        h.insert("email".into(), vec![json!(e)]);
        if login {
            h.insert(
                "password".into(),
                vec![json!(PASSWORD), json!("wrong-horse-battery")],
            );
        }
        h.insert("current_password".into(), vec![json!(current)]);
        h.insert(
            "parent_id".into(),
            vec![json!(fx.comment), json!(fx.reply), Value::Null],
        );
        h.insert(
            "mentions".into(),
            vec![
                json!([]),
                json!([fx.admin.user_id]),
                json!([fx.client.user_id]),
            ],
        );
        h.insert("refresh_token".into(), vec![json!(fx.scratch.refresh)]);
        h.insert(
            "emoji".into(),
            vec![json!("👍"), json!("🎉"), json!(":tada:"), json!("+1")],
        );
        h.insert("post_id".into(), vec![json!(fx.post)]);
        h.insert(
            "type".into(),
            vec![
                json!("post.*"),
                json!("comment.created"),
                json!("member.joined"),
            ],
        );
        h
    }

    fn default_actor(op: &Op) -> Actor {
        if op.path.starts_with("/api/admin") {
            Actor::Root
        } else if [
            "/api/auth/logout",
            "/api/auth/ws-ticket",
            "/api/users/profile",
        ]
        .contains(&op.path.as_str())
        {
            Actor::Scratch
        } else {
            Actor::Admin
        }
    }

    /// One generated request to `op`, checked.
    async fn case(&mut self, op: &Op) {
        let mut kinds = vec![(Kind::Valid, 45)];
        if op.body.is_some() {
            kinds.extend([
                (Kind::BadBody, 18),
                (Kind::Malformed, 5),
                (Kind::WrongContentType, 5),
            ]);
        }
        if !op.params.is_empty() {
            kinds.push((Kind::BadParam, 12));
        }
        if op.secured {
            kinds.extend([(Kind::NoAuth, 6), (Kind::BadAuth, 6)]);
        }
        if op.body.is_some() || op.params.iter().any(|p| p.location == "query") {
            kinds.push((Kind::Nul, 4));
        }
        let total: usize = kinds.iter().map(|(_, w)| w).sum();
        let mut roll = self.gen.below(total);
        let kind = kinds
            .iter()
            .find(|(_, w)| {
                if roll < *w {
                    true
                } else {
                    roll -= w;
                    false
                }
            })
            .map(|(k, _)| *k)
            .unwrap();

        let actor = match self.gen.below(10) {
            0 | 1 => Actor::Client,
            2 => Actor::Outsider,
            _ => Self::default_actor(op),
        };
        let hints = self.hints(op, actor);
        // Parameters.
        let mut path = op.path.clone();
        let mut query = Vec::new();
        let bad_param = (kind == Kind::BadParam).then(|| self.gen.below(op.params.len()));
        let mut what = format!("{kind:?}");
        let mut bad_param_sent = false;
        // Whether every parameter sent is valid for its schema (generation can miss).
        let mut params_valid = true;
        for (i, p) in op.params.clone().iter().enumerate() {
            let value: Option<String> = if bad_param == Some(i) {
                let valid =
                    self.gen
                        .valid(&self.doc, &mut self.v, &p.schema, &hints, Some(&p.name));
                let mut sent = None;
                for _ in 0..8 {
                    // On the wire a parameter is text: it breaks a rule only if its text does.
                    if let Some((x, w)) =
                        self.gen.invalid(&self.doc, &mut self.v, &p.schema, &valid)
                    {
                        let text = param_text(&x);
                        let seen_as = as_param(&self.doc, &p.schema, &text);
                        if !x.is_null() && !self.v.ok(&self.doc, &p.schema, &seen_as) {
                            what = format!("{what} {}: {w} ({text:?})", p.name);
                            bad_param_sent = true;
                            sent = Some(text);
                            break;
                        }
                    }
                }
                sent
            } else if p.location == "path" {
                let uuid = self.doc.resolve(&p.schema)["format"] == "uuid";
                if uuid && self.gen.chance(0.8) {
                    Some(self.real_id(op, &p.name).await)
                } else {
                    Some(param_text(&self.gen.valid(
                        &self.doc,
                        &mut self.v,
                        &p.schema,
                        &hints,
                        Some(&p.name),
                    )))
                }
            } else if p.required || self.gen.chance(0.35) {
                let x = self
                    .gen
                    .valid(&self.doc, &mut self.v, &p.schema, &hints, Some(&p.name));
                (!x.is_null()).then(|| param_text(&x))
            } else {
                None
            };
            // `.` and `..` cannot travel as a path segment: clients resolve them away.
            let value = value.map(|x| {
                if x == "." || x == ".." {
                    "👍".to_string()
                } else {
                    x
                }
            });
            if let Some(x) = &value {
                let seen_as = as_param(&self.doc, &p.schema, x);
                params_valid &= self.v.ok(&self.doc, &p.schema, &seen_as);
            }
            match (p.location.as_str(), value) {
                ("path", Some(x)) => path = path.replace(&format!("{{{}}}", p.name), &pct(&x)),
                ("path", None) => path = path.replace(&format!("{{{}}}", p.name), "not-an-id"),
                ("query", Some(x)) => query.push(format!("{}={}", pct(&p.name), pct(&x))),
                _ => {}
            }
        }
        if !query.is_empty() {
            path = format!("{path}?{}", query.join("&"));
        }
        // Body.
        let mut body = Body::None;
        let mut body_valid = true;
        if let Some(schema) = &op.body {
            let valid = self.gen.valid(&self.doc, &mut self.v, schema, &hints, None);
            body_valid = self.v.ok(&self.doc, schema, &valid);
            body = Body::Json(valid.clone());
            match kind {
                Kind::BadBody => match self.gen.invalid(&self.doc, &mut self.v, schema, &valid) {
                    Some((x, w)) => {
                        what = format!("{what}: {w}");
                        body = Body::Json(x);
                        body_valid = false;
                    }
                    None => what = format!("{what}: nothing to break"),
                },
                Kind::Malformed => {
                    let cut = valid.to_string();
                    let half: String = cut.chars().take(cut.chars().count() / 2).collect();
                    let bad = self.gen.pick(&[
                        format!("{half}{{"),
                        "".into(),
                        "nul".into(),
                        "{\"a\":".into(),
                    ]);
                    body = Body::Raw(bad, "application/json");
                    body_valid = false;
                }
                Kind::WrongContentType => {
                    body = Body::Raw(valid.to_string(), "text/plain");
                    body_valid = false;
                }
                _ => {}
            }
        }
        // U+0000 in some text: in a string of the body, else in a query parameter.
        let mut nul_sent = false;
        if kind == Kind::Nul {
            if let Body::Json(v) = &mut body {
                let mut strings = Vec::new();
                string_pointers(v, String::new(), &mut strings);
                if strings.is_empty() {
                    *v = json!("\u{0}");
                } else {
                    let at = self.gen.pick(&strings);
                    if let Some(Value::String(t)) = v.pointer_mut(&at) {
                        let cut = t.chars().count() / 2;
                        *t = format!(
                            "{}\u{0}{}",
                            t.chars().take(cut).collect::<String>(),
                            t.chars().skip(cut).collect::<String>()
                        );
                    }
                }
                nul_sent = true;
            } else if let Some(p) = op.params.iter().find(|p| p.location == "query") {
                let sep = if path.contains('?') { '&' } else { '?' };
                path = format!("{path}{sep}{}=a%00b", pct(&p.name));
                nul_sent = true;
            }
        }
        // Credentials.
        let auth =
            match kind {
                Kind::NoAuth => Auth::None,
                Kind::BadAuth if !self.fx.revoked.is_empty() && self.gen.chance(0.3) => {
                    Auth::Revoked(self.gen.pick(&self.fx.revoked.clone()))
                }
                Kind::BadAuth => Auth::Header(
                    self.gen.pick(&[
                        "Bearer not-a-token".to_string(),
                        "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
                            .into(),
                        "Basic dXNlcjpwYXNz".into(),
                        "Bearer".into(),
                    ]),
                ),
                _ if op.secured => Auth::As(actor),
                _ if self.gen.chance(0.1) => Auth::Header("Bearer not-a-token".into()),
                _ => Auth::None,
            };
        what = format!("{what} as {auth:?} at {path}");

        let a = self.send(&op.method, &path, &auth, &body).await;
        let b = self.check_answer(op, &what, &a);
        // Documented (the database may fail), but a healthy server answering 5xx to a
        // request is a bug.
        if a.status >= 500 {
            self.fail(format!(
                "{} → {} ({what}) {}",
                op.key(),
                a.status,
                body_snippet(&body)
            ));
        }
        let key = op.key();
        // 400, or 413 when the body was also too large (whichever is seen first).
        if nul_sent && a.status != 400 && a.status != 413 {
            self.fail(format!(
                "{key} → {} for text with U+0000 ({what})",
                a.status
            ));
        }
        let invalid = nul_sent
            || matches!(kind, Kind::Malformed | Kind::WrongContentType)
            || kind == Kind::BadBody && !body_valid
            || bad_param_sent;
        if invalid && a.status < 400 {
            self.fail(format!(
                "{key} → {} for an invalid request ({what}) {}",
                a.status,
                body_snippet(&body)
            ));
        }
        // Credentials are checked before anything else is looked at; a token that needs the
        // database to be refused (an ended session) may lose the race to a body that is
        // refused outright, but never gets through.
        match auth {
            Auth::None | Auth::Header(_)
                if op.secured
                    && !matches!(auth, Auth::None if kind != Kind::NoAuth)
                    && a.status != 401 =>
            {
                self.fail(format!(
                    "{key} → {} without valid credentials ({what})",
                    a.status
                ));
            }
            Auth::Revoked(_) if a.status < 400 => {
                self.fail(format!(
                    "{key} → {} with the token of an ended session",
                    a.status
                ));
            }
            _ => {}
        }
        if !invalid && body_valid && params_valid && a.status == 400 {
            let code = b["error"]["code"].as_str().unwrap_or("");
            if SHAPE_CODES.contains(&code) {
                self.fail(format!(
                    "{key} → 400 {code} for a request the document calls valid ({what}): {} {}",
                    short(&b),
                    body_snippet(&body)
                ));
            }
            if code == "validation_failed" && matches!(auth, Auth::As(_)) {
                let allowed = semantic_fields(&op.method, &op.path);
                let fields: Vec<String> = b["error"]["details"]["fields"]
                    .as_object()
                    .map(|f| f.keys().cloned().collect())
                    .unwrap_or_default();
                let unexpected: Vec<&String> = fields
                    .iter()
                    .filter(|f| {
                        !allowed
                            .iter()
                            .any(|a| f.as_str() == *a || f.starts_with(&format!("{a}.")))
                    })
                    .collect();
                if !unexpected.is_empty() {
                    self.fail(format!(
                        "{key} → 400 on {unexpected:?} for values the document allows ({what}): {} {}",
                        short(&b),
                        body_snippet(&body)
                    ));
                }
            }
        }
        if (200..300).contains(&a.status) {
            self.after_success(op, &auth, &b, &body).await;
        }
    }

    /// Puts the fixtures back after a request that changed them.
    async fn after_success(&mut self, op: &Op, auth: &Auth, answer: &Value, body: &Body) {
        let actor = match auth {
            Auth::As(a) => Some(*a),
            _ => None,
        };
        match (op.method.as_str(), op.path.as_str(), actor) {
            ("post", "/api/auth/logout", Some(a)) => {
                let old = std::mem::take(&mut self.session_mut(a).access);
                self.fx.revoked.push(old);
                self.relogin(a).await;
            }
            ("post", "/api/auth/refresh", _) => {
                if let (Some(a), Some(r)) = (
                    answer["access_token"].as_str(),
                    answer["refresh_token"].as_str(),
                ) {
                    self.fx.scratch.access = a.into();
                    self.fx.scratch.refresh = r.into();
                }
            }
            ("put", "/api/users/profile", Some(a)) => {
                if let Some(t) = answer["access_token"].as_str() {
                    let old = std::mem::replace(&mut self.session_mut(a).access, t.into());
                    self.fx.revoked.push(old);
                    if let Body::Json(b) = body {
                        if let Some(p) = b["new_password"].as_str() {
                            let e = self.session(a).email.clone();
                            self.fx.passwords.insert(e, p.into());
                        }
                    }
                }
            }
            ("put", "/api/posts/{id}", _) => {
                let post = self.fx.post.clone();
                let a = self
                    .send(
                        "put",
                        &format!("/api/posts/{post}"),
                        &Auth::As(Actor::Root),
                        &Body::Json(json!({ "client_visible": true })),
                    )
                    .await;
                assert_eq!(a.status, 200, "repair: {}", a.text);
            }
            ("put" | "delete", "/api/workspaces/{id}/members/{user_id}", _) => {
                self.repair_members().await
            }
            _ => {}
        }
    }

    async fn relogin(&mut self, a: Actor) {
        let (e, p) = (self.session(a).email.clone(), self.password(a));
        let r = self.app.login(&e, &p).await;
        self.requests += 1;
        assert_eq!(r.status(), 200, "repair: {a:?} signs in again");
        *self.session_mut(a) = session(body(r).await);
    }

    /// The admin is the workspace's admin and the client its client again.
    async fn repair_members(&mut self) {
        let ws = self.fx.ws.clone();
        let root = Auth::As(Actor::Root);
        let list = self
            .send(
                "get",
                &format!("/api/workspaces/{ws}/members"),
                &root,
                &Body::None,
            )
            .await;
        let list: Value = serde_json::from_str(&list.text).unwrap();
        let role_of = |id: &str| {
            list["members"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["user_id"] == id)
                .map(|m| m["role"].as_str().unwrap().to_string())
        };
        for (a, role) in [(Actor::Admin, "workspace_admin"), (Actor::Client, "client")] {
            let id = self.session(a).user_id.clone();
            match role_of(&id) {
                Some(r) if r == role => {}
                Some(_) => {
                    let a = self
                        .send(
                            "put",
                            &format!("/api/workspaces/{ws}/members/{id}"),
                            &root,
                            &Body::Json(json!({ "role": role })),
                        )
                        .await;
                    assert_eq!(a.status, 200, "repair {role}: {}", a.text);
                }
                None => {
                    let (root_s, who) = (self.fx.root.clone(), self.session(a).clone());
                    self.app.add_member(&root_s, &ws, &who, role).await;
                    self.requests += 2;
                }
            }
        }
    }

    /// Undeclared methods on every known path answer 405 with the declared ones in `Allow`;
    /// unknown paths answer 404.
    async fn methods(&mut self, ops: &[Op]) {
        let mut paths: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for op in ops {
            paths
                .entry(op.path.clone())
                .or_default()
                .insert(op.method.to_uppercase());
        }
        paths.insert("/api/openapi.json".into(), ["GET".to_string()].into());
        for (path, declared) in paths {
            let url = path
                .replace("{id}", &self.fx.ws)
                .replace("{emoji}", "%F0%9F%91%8D")
                .replace(['{', '}'], "");
            for m in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
                if declared.contains(m) {
                    continue;
                }
                let a = self
                    .send(m, &url, &Auth::As(Actor::Admin), &Body::Json(json!({})))
                    .await;
                let b: Value = serde_json::from_str(&a.text).unwrap_or(Value::Null);
                let allow: BTreeSet<String> = a
                    .headers
                    .get("allow")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if a.status != 405
                    || b["error"]["code"] != "method_not_allowed"
                    || allow != declared
                {
                    self.fail(format!(
                        "{m} {path} → {} {} with Allow {allow:?}; expected 405 method_not_allowed with Allow {declared:?}",
                        a.status,
                        short(&b)
                    ));
                }
            }
        }
        for unknown in [
            "/api/zz-nothing",
            "/api/workspaces/x/zz",
            "/api/posts",
            "/api/auth/zz-nothing",
            "/zz-nothing/at/all",
        ] {
            for m in ["GET", "POST"] {
                let a = self
                    .send(m, unknown, &Auth::As(Actor::Admin), &Body::None)
                    .await;
                let b: Value = serde_json::from_str(&a.text).unwrap_or(Value::Null);
                let api = unknown.starts_with("/api/");
                if a.status != 404 || api && b["error"]["code"] != "not_found" {
                    self.fail(format!(
                        "{m} {unknown} → {} {}; expected 404",
                        a.status,
                        short(&b)
                    ));
                }
            }
        }
    }

    /// A body over the server's limit answers 413 wherever a body is read.
    async fn oversized(&mut self, ops: &[Op], limit: usize) {
        let big = format!("\"{}\"", "a".repeat(limit));
        for op in ops.iter().filter(|o| o.body.is_some()) {
            let mut path = op.path.clone();
            for p in &op.params {
                let id = self.real_id(op, &p.name).await;
                path = path.replace(&format!("{{{}}}", p.name), &pct(&id));
            }
            let auth = if op.secured {
                Auth::As(Self::default_actor(op))
            } else {
                Auth::None
            };
            let a = self
                .send(
                    &op.method,
                    &path,
                    &auth,
                    &Body::Raw(big.clone(), "application/json"),
                )
                .await;
            self.check_answer(op, "oversized body", &a);
            if a.status != 413 {
                self.fail(format!(
                    "{} → {} for a body over the limit",
                    op.key(),
                    a.status
                ));
            }
        }
    }
}

/// JSON pointers to every string in `v`.
fn string_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::String(_) => out.push(at),
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                string_pointers(x, format!("{at}/{i}"), out);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                string_pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        _ => {}
    }
}

fn body_snippet(b: &Body) -> String {
    match b {
        Body::None => String::new(),
        Body::Json(v) => format!("body {}", short(v)),
        Body::Raw(t, ct) => format!("body ({ct}) {:?}", t.chars().take(80).collect::<String>()),
    }
}

async fn fixtures(app: &TestApp) -> Fixtures {
    let root = app.super_admin().await;
    let admin = app.register_verified(&email("fz-admin"), "Admin").await;
    let client = app.register_verified(&email("fz-client"), "Client").await;
    let outsider = app
        .register_verified(&email("fz-outsider"), "Outsider")
        .await;
    let scratch = app.register_verified(&email("fz-scratch"), "Scratch").await;
    let login_target = app
        .register_verified(&email("fz-target"), "Target")
        .await
        .email;
    let ws = app.create_workspace(&admin, "Fuzz").await;
    app.add_member(&admin, &ws, &client, "client").await;
    let post = app
        .create_post(
            &admin,
            &ws,
            json!({ "title": "Fuzz", "caption": "Hello #fuzz", "platforms": ["x", "linkedin"], "client_visible": true }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = |r: Value, at: &str| r.pointer(at).and_then(Value::as_str).unwrap().to_string();
    let r = app
        .post(
            &format!("/api/posts/{post}/comments"),
            Some(&admin.access),
            json!({ "body": "root", "visibility": "client" }),
        )
        .await;
    let comment = id(body(r).await, "/id");
    let r = app
        .post(
            &format!("/api/posts/{post}/comments"),
            Some(&admin.access),
            json!({ "body": "reply", "parent_id": comment }),
        )
        .await;
    let reply = id(body(r).await, "/id");
    let r = app
        .post(
            &format!("/api/posts/{post}/versions"),
            Some(&admin.access),
            json!({ "name": "v1" }),
        )
        .await;
    let version = id(body(r).await, "/id");
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/members"),
            Some(&admin.access),
            json!({ "email": email("fz-invitee"), "role": "reviewer" }),
        )
        .await;
    let invitation = id(body(r).await, "/invitation/id");
    Fixtures {
        root,
        admin,
        client,
        outsider,
        scratch,
        passwords: HashMap::new(),
        ws,
        post,
        comment,
        reply,
        version,
        invitation,
        revoked: Vec::new(),
        login_target,
    }
}

#[actix_web::test]
async fn the_server_keeps_its_openapi_contract() {
    let started = Instant::now();
    let seed: u64 = std::env::var("COPYDESK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Uuid::new_v4().as_u64_pair().0);
    let cases: usize = std::env::var("COPYDESK_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let limit = copydesk::config::Settings::default()
        .server
        .body_limit_bytes;
    let app = spawn_app_with(|s| {
        // Invitations are sent to the same people over and over; throttles are fuzzed
        // elsewhere (hardening tests), here they would only starve the fixtures.
        s.auth.invitations_per_inviter = 1_000_000;
        s.auth.invitations_per_recipient = 1_000_000;
        s.auth.verification_mails_per_address = 1_000_000;
    })
    .await;
    let r = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc = Doc(r.json().await.unwrap());
    assert_eq!(
        doc.0["components"]["securitySchemes"]
            .as_object()
            .map(|s| s.len()),
        Some(1),
        "one security scheme"
    );
    let ops = operations(&doc);
    assert!(ops.len() > 50, "{} operations", ops.len());
    // Every example in the document is valid for its own schema.
    let mut v = Validator::default();
    for (name, s) in doc.0["components"]["schemas"].as_object().unwrap() {
        for (p, ps) in s["properties"].as_object().into_iter().flatten() {
            if let Some(e) = ps.get("example") {
                let errs = v.errors(&doc, ps, e);
                assert!(errs.is_empty(), "example of {name}.{p}: {errs:?}");
            }
        }
    }

    let fx = fixtures(&app).await;
    let mut fz = Fuzzer {
        app,
        doc,
        gen: Gen::new(seed),
        v,
        fx,
        requests: 0,
        failures: Vec::new(),
        seen: BTreeMap::new(),
        statuses: BTreeMap::new(),
    };
    fz.methods(&ops).await;
    fz.oversized(&ops, limit).await;
    for _ in 0..cases {
        for op in &ops {
            fz.case(op).await;
        }
    }

    // Let the mail the run queued go out before the server's runtime goes away.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut never: Vec<String> = Vec::new();
    for op in &ops {
        let seen = fz.seen.get(&op.key()).cloned().unwrap_or_default();
        let missing: Vec<u16> = op
            .responses
            .keys()
            .filter(|s| !seen.contains(s))
            .copied()
            .collect();
        if !missing.is_empty() {
            never.push(format!("{} {missing:?}", op.key()));
        }
    }
    println!(
        "openapi contract: seed {seed}, {} operations, {} requests in {:.1} s; statuses {:?}",
        ops.len(),
        fz.requests,
        started.elapsed().as_secs_f64(),
        fz.statuses
    );
    println!("documented statuses not provoked this run (not an error): {never:#?}");
    // One line per kind of violation (operation and status), with how often it happened.
    let mut kinds: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for f in &fz.failures {
        let kind: String = f.split(['(', ':']).next().unwrap_or(f).trim().to_string();
        kinds.entry(kind).or_insert((0, f.clone())).0 += 1;
    }
    let summary: Vec<String> = kinds
        .values()
        .map(|(n, example)| format!("{n}× {}", example.chars().take(700).collect::<String>()))
        .collect();
    assert!(
        fz.failures.is_empty(),
        "{} contract violations of {} kinds (seed {seed}; replay with COPYDESK_FUZZ_SEED={seed}):\n{}",
        fz.failures.len(),
        kinds.len(),
        summary.join("\n")
    );
}

//! HTML listings and detail pages, read with the CSS selectors each source
//! declares in `sources.toml` ([`HtmlSpec`], [`DetailSpec`]).
//!
//! A listing page yields one draft per `item` match (title, link, summary,
//! deadline, opening) and the next page's URL; a detail page then fills the
//! body text and better dates. Dates come from `<time datetime>` when the page
//! has them (EURAXESS: the attribute is the UTC instant, the zone is shown in
//! parentheses, SOURCES-FORMATS.md §4), otherwise from the text through
//! [`crate::dates::extract`].
//!
//! ## Nesting guard
//!
//! html5ever is quadratic on deeply nested markup: 100,000 unclosed `<div>`
//! took 38 s to parse. [`nesting_depth`] scans the bytes first (linear, no
//! allocation) and pages deeper than [`MAX_NESTING`] are refused with
//! [`ExtractError::TooDeep`] before the parser sees them.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use super::text::{
    Markup, Role, TextBuilder, find_from, one_line, role, scan_markup, skip_element,
};
use super::{
    DateReader, ExtractError, ExtractProblem, eu_identifiers, keep_item, push_identifiers,
};
use crate::config::{DetailSpec, Field, HtmlSpec, Source};
use crate::model::{CallDraft, DatePoint, DateRole, FoundDate};

/// Deepest element nesting parsed. Real pages stay under ~60 (the EURAXESS
/// listing, the deepest sample, is about 30); at 1,000 html5ever still
/// parses in milliseconds.
pub const MAX_NESTING: usize = 1_000;

/// One listing page: its calls, the next page, and the items skipped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListingPage {
    /// One draft per item, in page order.
    pub items: Vec<CallDraft>,
    /// The next listing page, resolved against the page URL (never the page
    /// itself).
    pub next_page: Option<Url>,
    /// Items without a title or link, and other item-level trouble.
    pub problems: Vec<ExtractProblem>,
}

/// Elements whose end tag is optional or that cannot contain others: they do
/// not deepen the tree the way unclosed `<div>`s do (html5ever closes an open
/// `<p>` or `<li>` at the next one), so counting them would refuse honest
/// pages full of unclosed `<li>`.
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead",
    "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rp", "html", "head", "body", "basefont",
    "bgsound", "frame", "keygen", "image",
];

/// Raw-text elements: their content is not markup.
const RAW_TEXT: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "plaintext",
];

/// The deepest nesting of elements in `html`, stopping as soon as it passes
/// `limit` (so the scan of a hostile page is cut short too). Comments,
/// doctypes and the content of script/style are skipped; void and
/// optional-end-tag elements are not counted (see `NOT_NESTING`); an end
/// tag closes one level.
pub fn nesting_depth(html: &str, limit: usize) -> usize {
    let bytes = html.as_bytes();
    let mut depth: usize = 0;
    let mut max = 0;
    let mut i = 0;
    while let Some(lt) = find_from(html, '<', i) {
        match scan_markup(html, lt) {
            Markup::Text => i = lt + 1,
            Markup::Ignored { end } => i = end,
            Markup::Tag { name, closing, end } => {
                let name = &html[name.0..name.1];
                i = end;
                let listed = |list: &[&str]| list.iter().any(|t| t.eq_ignore_ascii_case(name));
                if listed(NOT_NESTING) {
                    continue;
                }
                if closing {
                    depth = depth.saturating_sub(1);
                    continue;
                }
                if listed(RAW_TEXT) {
                    i = skip_element(html, end, name);
                    continue;
                }
                // `<div/>` does not close a div in HTML, but authors who write
                // it mean an empty element; counting it would be harsher than
                // the parser, which keeps such pages shallow enough in practice.
                if bytes[..end].ends_with(b"/>") {
                    continue;
                }
                depth += 1;
                if depth > max {
                    max = depth;
                    if max > limit {
                        return max;
                    }
                }
            }
        }
    }
    max
}

fn guard(html: &str, page_url: &Url) -> Result<(), ExtractError> {
    let depth = nesting_depth(html, MAX_NESTING);
    if depth > MAX_NESTING {
        return Err(ExtractError::TooDeep {
            url: page_url.to_string(),
            depth,
            limit: MAX_NESTING,
        });
    }
    Ok(())
}

/// Reads one listing page. Items without a title or a link are reported as
/// problems and skipped; items the source's include/exclude filters reject
/// are skipped silently.
pub fn listing(
    html: &str,
    page_url: &Url,
    spec: &HtmlSpec,
    source: &Source,
    now: DateTime<Utc>,
) -> Result<ListingPage, ExtractError> {
    guard(html, page_url)?;
    let doc = Html::parse_document(html);
    let mut page = ListingPage::default();
    let mut texts = Texts::default();
    let mut dates = DateReader::new(source, now);
    let mut words = String::new();
    for (n, item) in doc.select(&spec.item.selector).enumerate() {
        let label = format!("item {}", n + 1);
        let title = first(item, &spec.title)
            .map(|el| texts.field_line(el, &spec.title))
            .unwrap_or_default();
        let link = first(item, &spec.link).map(|el| texts.field(el, &spec.link));
        let link = link.as_deref().map(str::trim).filter(|l| !l.is_empty());
        let (title, link) = match (title.is_empty(), link) {
            (false, Some(link)) => (title, link),
            (true, None) => {
                page.problems.push(ExtractProblem::new(
                    label,
                    format!(
                        "neither a title ({}) nor a link ({}) in the item; check the selectors; skipped",
                        spec.title.raw, spec.link.raw
                    ),
                ));
                continue;
            }
            (true, Some(_)) => {
                page.problems.push(ExtractProblem::new(
                    label,
                    format!(
                        "no title: selector {:?} matched nothing or only blanks; skipped",
                        spec.title.raw
                    ),
                ));
                continue;
            }
            (false, None) => {
                page.problems.push(ExtractProblem::new(
                    format!("{label} ({title})"),
                    format!(
                        "no link: selector {:?} matched nothing; skipped",
                        spec.link.raw
                    ),
                ));
                continue;
            }
        };
        let url = match page_url.join(link) {
            Ok(u) => u,
            Err(e) => {
                page.problems.push(ExtractProblem::new(
                    format!("{label} ({title})"),
                    format!("link {link:?} is not a URL: {e}; skipped"),
                ));
                continue;
            }
        };
        let summary = spec
            .summary
            .as_ref()
            .and_then(|f| first(item, f).map(|el| texts.field(el, f)))
            .unwrap_or_default();
        if !keep_item(source, &title, &summary) {
            continue;
        }
        let text = texts.text(item);
        let mut draft = CallDraft {
            native_id: euraxess_id(&url),
            url: url.to_string(),
            title,
            summary,
            ..CallDraft::default()
        };
        if let Some(f) = &spec.deadline
            && let Some(el) = first(item, f)
        {
            apply_deadline_field(
                &mut draft,
                read_dates(el, f, source, &mut texts, &mut dates),
            );
        }
        if let Some(f) = &spec.opening
            && let Some(el) = first(item, f)
        {
            apply_opening_field(
                &mut draft,
                read_dates(el, f, source, &mut texts, &mut dates),
            );
        }
        words.clear();
        words.push_str(&draft.title);
        words.push('\n');
        words.push_str(&text);
        let ids = eu_identifiers(&words);
        push_identifiers(&mut draft.identifiers, ids);
        draft.text = text;
        page.items.push(draft);
    }
    if let Some(f) = &spec.next_page
        && let Some(el) = doc.select(&f.selector).next()
    {
        let href = texts.field(el, f);
        let href = href.trim();
        if !href.is_empty() {
            match page_url.join(href) {
                Ok(next) if &next != page_url => page.next_page = Some(next),
                Ok(_) => {}
                Err(e) => page.problems.push(ExtractProblem::new(
                    "next page",
                    format!("link {href:?} ({}) is not a URL: {e}", f.raw),
                )),
            }
        }
    }
    Ok(page)
}

/// Fills `draft` from its detail page: body text, better title and summary,
/// and dates. Deadlines found on the detail page replace the listing's; when
/// the spec has no deadline selector and the draft has no deadline yet, the
/// body text is searched for one (Région AURA pages open with
/// "Date limite du dépôt : DD/MM/YYYY", SOURCES-FORMATS.md §4).
pub fn detail(
    draft: &mut CallDraft,
    html: &str,
    page_url: &Url,
    spec: &DetailSpec,
    source: &Source,
    now: DateTime<Utc>,
) -> Result<(), ExtractError> {
    guard(html, page_url)?;
    let doc = Html::parse_document(html);
    let root = doc.root_element();
    let mut texts = Texts::default();
    let mut dates = DateReader::new(source, now);
    if let Some(f) = &spec.title
        && let Some(el) = first(root, f)
    {
        let t = texts.field_line(el, f);
        if !t.is_empty() {
            draft.title = t;
        }
    }
    if let Some(f) = &spec.summary
        && let Some(el) = first(root, f)
    {
        let s = texts.field(el, f);
        if !s.is_empty() {
            draft.summary = s;
        }
    }
    if let Some(f) = &spec.body
        && let Some(el) = first(root, f)
    {
        let body = texts.field(el, f);
        if !body.is_empty() {
            draft.text = body;
        }
    }
    if let Some(f) = &spec.deadline {
        if let Some(el) = first(root, f) {
            let mut found = CallDraft::default();
            apply_deadline_field(
                &mut found,
                read_dates(el, f, source, &mut texts, &mut dates),
            );
            if !found.deadlines.is_empty() {
                draft.deadlines = found.deadlines;
            }
            if found.opening.is_some() && draft.opening.is_none() {
                draft.opening = found.opening;
            }
        }
    } else if draft.deadlines.is_empty() {
        for d in dates.read(&draft.text) {
            match d.role {
                DateRole::Deadline => draft.deadlines.push(d.point),
                DateRole::Opening if draft.opening.is_none() => draft.opening = Some(d.point),
                _ => {}
            }
        }
    }
    if let Some(f) = &spec.opening
        && let Some(el) = first(root, f)
    {
        apply_opening_field(draft, read_dates(el, f, source, &mut texts, &mut dates));
    }
    let ids = eu_identifiers(&format!("{}\n{}", draft.title, draft.text));
    push_identifiers(&mut draft.identifiers, ids);
    Ok(())
}

fn first<'a>(scope: ElementRef<'a>, field: &Field) -> Option<ElementRef<'a>> {
    match &field.lone_class {
        Some(class) => first_with_class(scope, class),
        None => scope.select(&field.selector).next(),
    }
}

/// The first descendant of `scope`, in document order, with `class` among
/// its classes: what scraper's `select` finds for the selector `.class`
/// (scraper matches classes case-sensitively, in every quirks mode). Read
/// from the `class` attribute: scraper's own matching interns the classes
/// of every element it tests and keeps them on the element, an allocation
/// per element that the page's drop then frees, together most of a
/// listing's extraction time beyond the parse for an item's `.summary` or
/// `.date` (benches/extract.rs under `perf`).
fn first_with_class<'a>(scope: ElementRef<'a>, class: &str) -> Option<ElementRef<'a>> {
    scope
        .descendants()
        .skip(1)
        .filter_map(ElementRef::wrap)
        .find(|el| {
            el.value().attrs().any(|(name, value)| {
                name == "class" && value.split_ascii_whitespace().any(|c| c == class)
            })
        })
}

/// The buffers a page's texts are laid out in, reused from one element to
/// the next: the walk's stack and the text. A listing reads four or five
/// elements per item; a stack and a growing string allocated for each were
/// a good part of its time once the page had left the cache
/// (benches/extract.rs under `perf`). Each text is handed out as an exact
/// copy.
#[derive(Default)]
struct Texts<'a> {
    stack: Vec<Step<'a>>,
    buf: String,
}

impl<'a> Texts<'a> {
    /// [`element_text_into`] of `el`.
    fn text(&mut self, el: ElementRef<'a>) -> String {
        element_text_into(el, &mut self.stack, &mut self.buf);
        self.buf.clone()
    }

    /// [`element_text_into`] of `el` on one line.
    fn line(&mut self, el: ElementRef<'a>) -> String {
        element_text_into(el, &mut self.stack, &mut self.buf);
        one_line(&self.buf)
    }

    /// The value a field reads: its attribute when it names one
    /// (`a@href`), otherwise the element's clean text.
    fn field(&mut self, el: ElementRef<'a>, field: &Field) -> String {
        match &field.attr {
            Some(attr) => el
                .attr(attr)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default(),
            None => self.text(el),
        }
    }

    /// [`Self::field`] on one line (titles).
    fn field_line(&mut self, el: ElementRef<'a>, field: &Field) -> String {
        match &field.attr {
            Some(_) => one_line(&self.field(el, field)),
            None => self.line(el),
        }
    }
}

enum Step<'a> {
    Node(ego_node::NodeRef<'a>),
    Close(Role),
}

/// Names the tree node type without depending on ego_tree directly.
mod ego_node {
    pub(super) type NodeRef<'a> = <scraper::ElementRef<'a> as std::ops::Deref>::Target;
}

/// Clean text of an element, laid out like [`super::text::html_to_text`].
/// Iterative, so no page can exhaust the stack.
///
/// Written into `out`, in place of what it held, with `stack` as the walk's
/// stack (both reused: see [`Texts`]).
fn element_text_into<'a>(el: ElementRef<'a>, stack: &mut Vec<Step<'a>>, out: &mut String) {
    let mut b = TextBuilder::with_buffer(std::mem::take(out));
    stack.clear();
    stack.push(Step::Node(*el));
    while let Some(step) = stack.pop() {
        match step {
            Step::Close(r) => b.boundary(r),
            Step::Node(node) => match node.value() {
                Node::Text(t) => b.text(t),
                Node::Element(e) => {
                    let r = role(e.name());
                    if r == Role::Skip {
                        continue;
                    }
                    b.boundary(r);
                    stack.push(Step::Close(r));
                    for child in node.children().rev() {
                        stack.push(Step::Node(child));
                    }
                }
                Node::Document | Node::Fragment => {
                    for child in node.children().rev() {
                        stack.push(Step::Node(child));
                    }
                }
                _ => {}
            },
        }
    }
    *out = b.finish();
}

static TIME_SELECTOR: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse("time[datetime]").expect("invariant: static selector is valid")
});

/// An IANA zone shown in parentheses: EURAXESS writes
/// `12 Apr 2026 - 23:59 (Europe/Brussels)`.
static ZONE_IN_PARENS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\(\s*([A-Z][A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)+)\s*\)")
        .expect("invariant: the zone pattern is a valid regex")
});

/// Dates of one field element. `<time datetime>` values win (role `Other`:
/// the field, not the words, says what they are); otherwise the date
/// extractor reads the element text (or the attribute the field names).
fn read_dates<'a>(
    el: ElementRef<'a>,
    field: &Field,
    source: &Source,
    texts: &mut Texts<'a>,
    dates: &mut DateReader,
) -> Vec<FoundDate> {
    if let Some(attr) = &field.attr {
        let value = el.attr(attr).unwrap_or_default();
        let shown = texts.line(el);
        if let Some(point) = time_value(value, &shown, source.timezone) {
            return vec![FoundDate {
                role: DateRole::Other,
                point,
            }];
        }
        return dates.read(value);
    }
    let mut found = Vec::new();
    let own = el
        .value()
        .name()
        .eq_ignore_ascii_case("time")
        .then_some(el)
        .filter(|e| e.attr("datetime").is_some());
    for t in own.into_iter().chain(el.select(&TIME_SELECTOR)) {
        let shown = texts.line(t);
        if let Some(point) = time_value(
            t.attr("datetime").unwrap_or_default(),
            &shown,
            source.timezone,
        ) {
            found.push(FoundDate {
                role: DateRole::Other,
                point,
            });
        }
    }
    if !found.is_empty() {
        return found;
    }
    element_text_into(el, &mut texts.stack, &mut texts.buf);
    dates.read(&texts.buf)
}

/// A `datetime` attribute: an RFC 3339 instant (zone taken from the shown
/// text when it names one, else the source's) or a plain `YYYY-MM-DD` day.
fn time_value(value: &str, shown: &str, default_zone: Tz) -> Option<DatePoint> {
    let value = value.trim();
    let zone = ZONE_IN_PARENS
        .captures(shown)
        .and_then(|c| c[1].parse::<Tz>().ok())
        .unwrap_or(default_zone);
    let text = if shown.is_empty() { value } else { shown };
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(DatePoint::instant(at.with_timezone(&Utc), zone, text));
    }
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Some(DatePoint::day(day, zone, text));
    }
    None
}

/// In a deadline field, every date the words do not call an opening or a
/// publication is a deadline.
fn apply_deadline_field(draft: &mut CallDraft, found: Vec<FoundDate>) {
    for d in found {
        match d.role {
            DateRole::Deadline | DateRole::Other => draft.deadlines.push(d.point),
            DateRole::Opening if draft.opening.is_none() => draft.opening = Some(d.point),
            _ => {}
        }
    }
}

/// In an opening field, the first date that is not a deadline or a
/// publication is the opening.
fn apply_opening_field(draft: &mut CallDraft, found: Vec<FoundDate>) {
    if let Some(d) = found
        .into_iter()
        .find(|d| matches!(d.role, DateRole::Opening | DateRole::Other))
    {
        draft.opening = Some(d.point);
    }
}

/// EURAXESS offers are identified by the number in `/jobs/NNNNNN`
/// (SOURCES-FORMATS.md §0); other HTML sources by their canonical URL.
fn euraxess_id(url: &Url) -> Option<String> {
    if !url.host_str()?.ends_with("euraxess.ec.europa.eu") {
        return None;
    }
    let mut segs = url.path_segments()?;
    match (segs.next(), segs.next(), segs.next()) {
        (Some("jobs"), Some(id), None)
            if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(id.to_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceKind;
    use crate::extract::test_support;
    use crate::model::{Language, Precision};

    /// The HTML fixtures, and the real EURAXESS pages when
    /// `../shared/fixtures/real` is there (a skip is said otherwise), with
    /// their paths.
    fn fixture_pages() -> Vec<(std::path::PathBuf, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut pages: Vec<std::path::PathBuf> = std::fs::read_dir(dir.join("tests/fixtures/html"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let real = dir.join("../shared/fixtures/real");
        if real.is_dir() {
            pages.push(real.join("euraxess_jobs_search_results.html"));
            pages.push(real.join("euraxess_job_offer_detail.html"));
        } else {
            eprintln!("SKIPPED (real pages only): ../shared/fixtures/real is absent");
        }
        pages
            .into_iter()
            .map(|p| {
                let html = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                (p, html)
            })
            .collect()
    }

    /// The class attribute reading finds, for every element of every HTML
    /// fixture (and of the real EURAXESS pages when present) and every class
    /// on those pages, the element scraper's `select(".class")` finds.
    #[test]
    fn lone_class_lookup_finds_what_scraper_finds() {
        let mut checked = 0;
        for (page, html) in &fixture_pages() {
            let doc = Html::parse_document(html);
            let elements: Vec<ElementRef<'_>> = doc
                .tree
                .root()
                .descendants()
                .filter_map(ElementRef::wrap)
                .collect();
            let mut classes: Vec<String> = elements
                .iter()
                .flat_map(|e| e.value().classes().map(str::to_owned).collect::<Vec<_>>())
                .collect();
            classes.sort();
            classes.dedup();
            classes.extend(["absent".to_owned(), "Nav".to_owned()]);
            for class in &classes {
                let Some(field_class) = Field::parse(&format!(".{class}"))
                    .ok()
                    .and_then(|f| f.lone_class)
                else {
                    continue;
                };
                let sel = Selector::parse(&format!(".{class}")).unwrap();
                // Scopes: the root and a sample of elements (every one on
                // the small pages).
                let step = (elements.len() / 300).max(1);
                for scope in elements.iter().step_by(step) {
                    assert_eq!(
                        first_with_class(*scope, &field_class).map(|e| e.id()),
                        scope.select(&sel).next().map(|e| e.id()),
                        ".{class} in {}",
                        page.display()
                    );
                    checked += 1;
                }
            }
        }
        assert!(
            checked > 10_000,
            "only {checked} lookups: fixtures missing?"
        );
    }

    #[test]
    fn only_a_lone_plain_class_takes_the_fast_lookup() {
        let table = [
            (".summary", Some("summary")),
            (".aide-card__date@title", Some("aide-card__date")),
            (" .x_1 ", Some("x_1")),
            ("p.summary", None),
            (".a.b", None),
            (".a .b", None),
            (".a > b", None),
            ("#id", None),
            (".-a", None),
            (".1a", None),
            (".a\\:b", None),
            (".a:first-child", None),
            ("summary", None),
        ];
        for (raw, want) in table {
            let got = Field::parse(raw).ok().and_then(|f| f.lone_class);
            assert_eq!(got.as_deref(), want, "{raw:?}");
        }
    }

    /// One [`Texts`] reused for every element of a page gives each element
    /// the text a fresh walk gives: nothing of one text reaches the next.
    /// Every element of every HTML fixture (and of the real EURAXESS pages
    /// when `../shared/fixtures/real` is there), in document order.
    #[test]
    fn reused_text_buffers_give_each_element_its_own_text() {
        let mut elements = 0;
        for (page, html) in &fixture_pages() {
            let doc = Html::parse_document(html);
            let mut texts = Texts::default();
            for node in doc.tree.root().descendants() {
                let Some(el) = ElementRef::wrap(node) else {
                    continue;
                };
                let mut fresh = String::new();
                element_text_into(el, &mut Vec::new(), &mut fresh);
                assert_eq!(texts.text(el), fresh, "{}", page.display());
                assert_eq!(texts.line(el), one_line(&fresh), "{}", page.display());
                elements += 1;
            }
        }
        assert!(
            elements > 500,
            "only {elements} elements: fixtures missing?"
        );
    }

    fn spec(
        item: &str,
        title: &str,
        link: &str,
        deadline: Option<&str>,
        next: Option<&str>,
    ) -> HtmlSpec {
        HtmlSpec {
            item: Field::parse(item).unwrap(),
            title: Field::parse(title).unwrap(),
            link: Field::parse(link).unwrap(),
            summary: Some(Field::parse(".summary").unwrap()),
            deadline: deadline.map(|d| Field::parse(d).unwrap()),
            opening: None,
            next_page: next.map(|n| Field::parse(n).unwrap()),
            max_pages: 3,
            detail: None,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-03-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn nesting_depth_counts_what_html5ever_nests() {
        let table: &[(&str, &str, usize)] = &[
            ("flat", "<div><p>a</p></div><div></div>", 1),
            ("nested", "<div><section><span>x</span></section></div>", 3),
            ("unclosed divs", "<div><div><div>", 3),
            (
                "unclosed li and p do not nest",
                "<ul><li>a<li>b<li>c<p>x<p>y</ul>",
                1,
            ),
            ("void elements", "<div><br><img src=x><input></div>", 1),
            (
                "comments and scripts skipped",
                "<!-- <div><div> --><script>'<div><div>'</script><b>",
                1,
            ),
            ("self-closed", "<div/><div/><span/>", 0),
            ("quoted >", "<div title='a>b'><div></div></div>", 2),
            ("stray end tags do not go negative", "</div></div><div>", 1),
        ];
        for (name, html, want) in table {
            assert_eq!(nesting_depth(html, 10_000), *want, "{name}");
        }
    }

    #[test]
    fn too_deep_page_is_refused_quickly() {
        let html = "<div>".repeat(100_000);
        let src = test_support::source(SourceKind::Feed, Language::Fr);
        let url = Url::parse("https://example.org/deep").unwrap();
        let started = std::time::Instant::now();
        let err = listing(
            &html,
            &url,
            &spec("article", "h3", "a@href", None, None),
            &src,
            now(),
        )
        .unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        let ExtractError::TooDeep { depth, limit, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((depth, limit), (MAX_NESTING + 1, MAX_NESTING));
    }

    #[test]
    fn time_datetime_gives_the_instant_and_the_shown_zone() {
        let html = r#"<html><body>
          <article><h3><a href="/jobs/415163"><span>Postdoc </span></a></h3>
            <p class="summary">Sciences Po</p>
            <div class="id-Application-Deadline"><div>Application Deadline:</div>
              <div><time datetime="2026-04-12T21:59:00+00:00">12 Apr 2026 - 23:59 (Europe/Brussels)</time></div></div>
          </article>
          <article><h3><a href="/jobs/415161">Day only</a></h3>
            <div class="id-Application-Deadline"><time datetime="2026-05-01">1 May</time></div>
          </article>
          <article><h3>No link here</h3></article>
          <a class="next" href="?page=1">next</a>
        </body></html>"#;
        let src = test_support::source(SourceKind::Feed, Language::En);
        let url = Url::parse("https://euraxess.ec.europa.eu/jobs/search?page=0").unwrap();
        let page = listing(
            html,
            &url,
            &spec(
                "article",
                "h3",
                "h3 a@href",
                Some(".id-Application-Deadline"),
                Some("a.next@href"),
            ),
            &src,
            now(),
        )
        .unwrap();
        assert_eq!(page.items.len(), 2);
        let first = &page.items[0];
        assert_eq!(first.title, "Postdoc");
        assert_eq!(first.url, "https://euraxess.ec.europa.eu/jobs/415163");
        assert_eq!(first.native_id.as_deref(), Some("415163"));
        assert_eq!(first.summary, "Sciences Po");
        assert_eq!(
            first.deadlines,
            vec![DatePoint::instant(
                "2026-04-12T21:59:00Z".parse().unwrap(),
                chrono_tz::Europe::Brussels,
                "12 Apr 2026 - 23:59 (Europe/Brussels)"
            )]
        );
        let second = &page.items[1];
        assert_eq!(second.deadlines[0].precision, Precision::Date);
        assert_eq!(second.deadlines[0].zone, "Europe/Paris");
        assert_eq!(
            page.problems,
            vec![ExtractProblem::new(
                "item 3 (No link here)",
                "no link: selector \"h3 a@href\" matched nothing; skipped"
            )]
        );
        assert_eq!(
            page.next_page.unwrap().as_str(),
            "https://euraxess.ec.europa.eu/jobs/search?page=1"
        );
    }

    #[test]
    fn next_page_pointing_at_itself_is_dropped() {
        let html =
            r#"<article><h3><a href="/a">A</a></h3></article><a class="next" href="?p=2">n</a>"#;
        let src = test_support::source(SourceKind::Feed, Language::En);
        let url = Url::parse("https://example.org/list?p=2").unwrap();
        let page = listing(
            html,
            &url,
            &spec("article", "h3", "a@href", None, Some("a.next@href")),
            &src,
            now(),
        )
        .unwrap();
        assert_eq!(page.next_page, None);
        assert_eq!(page.items[0].native_id, None);
    }

    #[test]
    fn euraxess_ids() {
        let table = [
            ("https://euraxess.ec.europa.eu/jobs/415163", Some("415163")),
            ("https://euraxess.ec.europa.eu/jobs/search", None),
            ("https://euraxess.ec.europa.eu/jobs/415163/apply", None),
            ("https://example.org/jobs/415163", None),
        ];
        for (u, want) in table {
            assert_eq!(euraxess_id(&Url::parse(u).unwrap()).as_deref(), want, "{u}");
        }
    }
}

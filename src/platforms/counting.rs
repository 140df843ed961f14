//! How each network counts a post's length, and what it recognises as a hashtag, a
//! mention or a link.
//!
//! Every network counts "characters" its own way: X weighs code points (CJK and emoji
//! count 2, every link 23), Bluesky and Mastodon count what a reader sees as one character
//! (grapheme clusters), TikTok and Telegram count UTF-16 code units, YouTube counts UTF-8
//! bytes, Threads counts emoji by their UTF-8 bytes.
//!
//! Known approximations: input is assumed to be NFC (browsers send NFC; X normalises
//! first), and bare domains (no `http://`) are recognised for a list of common TLDs
//! rather than twitter-text's full list.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use unicode_segmentation::UnicodeSegmentation;

use super::{Platform, PlatformDraft};

static HASHTAG_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^\w&/#＃@])[#＃](\w*\pL\w*)").unwrap());
// Not after a word char (skips e-mail addresses); may carry a Mastodon remote domain.
pub(crate) static MENTION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\w@./])@(\w(?:[\w.-]*\w)?)(@[\w-]+(?:\.[\w-]+)+)?").unwrap()
});
// Group 1: the URL; group 2: the TLD of a bare domain.
static URL_RE: LazyLock<Regex> = LazyLock::new(|| {
    let scheme = r"https?://\S+";
    let bare = r"(?:[\w-]+\.)+([a-z]{2,63})\b(?::\d{1,5})?(?:[/?#]\S*)?";
    Regex::new(&format!(r"(?i)(?:^|[^\w@$#＃.\-/])({scheme}|{bare})")).unwrap()
});

/// Generic TLDs recognised without `http://`. Two-letter (country) TLDs are always
/// recognised, but like twitter-text, "name.cc" with no path is a link only for co/tv.
const GENERIC_TLDS: &[&str] = &[
    "com", "org", "net", "edu", "gov", "mil", "int", "info", "biz", "app", "dev", "xyz", "shop",
    "store", "blog", "news", "online", "site", "tech", "cloud", "art", "design", "live", "media",
    "social", "page", "link", "club", "agency", "studio", "io", "ai", "me",
];

/// Strips punctuation that ends the sentence rather than the URL, keeping balanced ")".
fn trim_url(mut u: &str) -> &str {
    while let Some(c) = u.chars().last() {
        let unbalanced = (c == ')' && u.matches('(').count() < u.matches(')').count())
            || (c == ']' && u.matches('[').count() < u.matches(']').count());
        if !(unbalanced || ".,:;!?'\"…”’»".contains(c)) {
            break;
        }
        u = &u[..u.len() - c.len_utf8()];
    }
    u
}

/// Byte ranges of the URLs in `text`; bare domains only if `bare` (X yes, Mastodon no).
fn url_spans(text: &str, bare: bool) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    for c in URL_RE.captures_iter(text) {
        let m = c.get(1).expect("group 1 always matches");
        let url = trim_url(m.as_str());
        let ok = match c.get(2) {
            Some(t) => {
                let tld = t.as_str().to_ascii_lowercase();
                let tld_end = t.end() - m.start();
                let has_path = url.len() > tld_end;
                let one_label = url[..tld_end].matches('.').count() == 1;
                let cc_ok = has_path || !one_label || tld == "co" || tld == "tv";
                bare && (tld.len() == 2 && cc_ok || GENERIC_TLDS.contains(&tld.as_str()))
            }
            None => !url.ends_with("://"),
        };
        if ok {
            spans.push(m.start()..m.start() + url.len());
        }
    }
    spans
}

/// Hashtags in `text`, without '#', in order, deduplicated case-insensitively (first
/// spelling wins). As on X, a tag needs a letter ("#1" is none) and must not follow a
/// word character, '&' (HTML entities) or '/' (URL fragments).
pub fn extract_hashtags(text: &str) -> Vec<String> {
    dedup(HASHTAG_RE.captures_iter(text).map(|c| c[1].to_string()))
}

/// Mentions in `text`, without '@', in order, deduplicated case-insensitively; a
/// Mastodon-style remote mention keeps its domain ("user@example.social").
pub fn extract_mentions(text: &str) -> Vec<String> {
    let found = MENTION_RE.captures_iter(text);
    dedup(found.map(|c| format!("{}{}", &c[1], c.get(2).map_or("", |m| m.as_str()))))
}

pub(crate) fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items.filter(|s| seen.insert(s.to_lowercase())).collect()
}

/// A tag as typed ("#Summer Sale") to the bare tag ("SummerSale"): tags have no spaces.
fn normalize_tag(tag: &str) -> String {
    let tag = tag.trim().trim_start_matches(['#', '＃']);
    tag.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The text as it will be sent: text, then (if any explicit hashtags are not already in
/// the text) a blank line and "#tag #tag".
pub fn composed_text(d: &PlatformDraft) -> String {
    let in_text = extract_hashtags(d.text);
    let mut seen: HashSet<String> = in_text.iter().map(|t| t.to_lowercase()).collect();
    let mut extra = Vec::new();
    for tag in d.hashtags.iter().map(|t| normalize_tag(t)) {
        if !tag.is_empty() && seen.insert(tag.to_lowercase()) {
            extra.push(format!("#{tag}"));
        }
    }
    match d.text.trim_end() {
        _ if extra.is_empty() => d.text.to_string(),
        "" => extra.join(" "),
        body => format!("{body}\n\n{}", extra.join(" ")),
    }
}

/// Whether a grapheme cluster is an emoji: pictographs, flags, keycaps, or anything
/// with emoji presentation (U+FE0F).
pub(crate) fn is_emoji(g: &str) -> bool {
    g.chars().any(|c| {
        let c = c as u32;
        matches!(c, 0x1F000..=0x1FAFF | 0x2300..=0x23FF | 0x2600..=0x27BF | 0x2B00..=0x2BFF)
            || c == 0xFE0F
            || c == 0x20E3
    })
}

/// twitter-text v3 weight of a code point: these ranges (Latin to Georgian, general
/// punctuation: spaces, dashes, quotes, primes) weigh 1; all else, CJK included, 2.
fn x_char_weight(c: char) -> usize {
    match c as u32 {
        0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 1,
        _ => 2,
    }
}

/// Length as X counts it (twitter-text v3): every URL counts 23, every emoji (a whole
/// ZWJ sequence, flag or keycap) counts 2, other code points weigh 1 or 2.
pub fn x_weighted_length(text: &str) -> usize {
    let plain = |s: &str| -> usize {
        let weigh = |g: &str| match is_emoji(g) {
            true => 2,
            false => g.chars().map(x_char_weight).sum(),
        };
        s.graphemes(true).map(weigh).sum()
    };
    let (mut pos, mut total) = (0, 0);
    for span in url_spans(text, true) {
        total += plain(&text[pos..span.start]) + 23;
        pos = span.end;
    }
    total + plain(&text[pos..])
}

/// Mastodon's StatusLengthValidator: links with a scheme count 23, "@user@domain"
/// counts as "@user", and the rest is counted in grapheme clusters.
fn mastodon_length(text: &str) -> usize {
    let urls = url_spans(text, false);
    let mut spans: Vec<_> = urls.into_iter().map(|r| (r, 23)).collect();
    for c in MENTION_RE.captures_iter(text) {
        if let (Some(user), Some(domain)) = (c.get(1), c.get(2)) {
            let len = 1 + user.as_str().graphemes(true).count();
            spans.push((user.start() - 1..domain.end(), len));
        }
    }
    spans.sort_by_key(|(r, _)| r.start);
    let graphemes = |s: &str| s.graphemes(true).count();
    let (mut pos, mut total) = (0, 0);
    for (r, len) in spans {
        if r.start < pos {
            continue; // Overlaps the previous entity.
        }
        total += graphemes(&text[pos..r.start]) + len;
        pos = r.end;
    }
    total + graphemes(&text[pos..])
}

/// Length the way the platform counts it (X weighted, URLs 23; Bluesky graphemes;
/// Mastodon URLs 23 and remote mentions count only the local part; TikTok/Telegram
/// UTF-16 code units; YouTube UTF-8 bytes; Threads emoji as their UTF-8 bytes; the
/// rest Unicode characters).
pub fn platform_length(platform: Platform, text: &str) -> usize {
    match platform {
        Platform::X => x_weighted_length(text),
        Platform::Mastodon => mastodon_length(text),
        Platform::Bluesky => text.graphemes(true).count(),
        Platform::Tiktok | Platform::Telegram => text.encode_utf16().count(),
        Platform::Youtube => text.len(),
        // Threads API: "Emojis are counted as the number of UTF-8 bytes."
        Platform::Threads => {
            let len = |g: &str| match is_emoji(g) {
                true => g.len(),
                false => g.chars().count(),
            };
            text.graphemes(true).map(len).sum()
        }
        _ => text.chars().count(),
    }
}

/// The unit a platform counts in, and why a count may differ from what the user sees.
pub(crate) fn unit_and_note(platform: Platform) -> (&'static str, &'static str) {
    let note = match platform {
        Platform::X => " (URLs count as 23; emoji and CJK characters count as 2)",
        Platform::Mastodon => " (links count as 23; remote mentions count only the @username)",
        Platform::Tiktok | Platform::Telegram => " (counted in UTF-16 units: most emoji count 2)",
        Platform::Youtube => " (accented letters, non-Latin scripts and emoji take 2-4 bytes)",
        Platform::Threads => " (emoji count as their UTF-8 bytes, usually 4)",
        Platform::Bluesky => " (each emoji counts as 1)",
        _ => "",
    };
    let unit = if platform == Platform::Youtube {
        "bytes"
    } else {
        "characters"
    };
    (unit, note)
}

/// 63206 -> "63,206", as the platforms print their limits.
pub(crate) fn num(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use Platform::*;

    const FAMILY: &str = "👨\u{200d}👩\u{200d}👧\u{200d}👦";

    #[test]
    fn x_weights_cjk_emoji_and_urls() {
        let cases = [
            ("hello", 5),
            ("你好", 4),
            ("café — “ok”", 11),
            ("😀", 2),
            (FAMILY, 2),
            ("🇫🇷 1️⃣ ❤️", 8),
            ("a https://example.com/a/very/long/path?q=1 b", 27),
            ("see example.com/path.", 4 + 23 + 1),
            ("(https://en.wikipedia.org/wiki/Rust_(lang))", 25),
            ("t.co", 23),
            // Not URLs: abbreviations, file names, e-mail, a ccTLD domain without a path.
            ("e.g. node.js", 12),
            ("me@example.com", 14),
            ("visit example.de", 16),
        ];
        for (text, want) in cases {
            assert_eq!(x_weighted_length(text), want, "{text}");
        }
    }

    #[test]
    fn lengths_per_platform() {
        assert_eq!(platform_length(Threads, "hi 😀"), 7);
        assert_eq!(
            platform_length(Mastodon, "hi @alice@very.long.instance.example!"),
            10
        );
        assert_eq!(platform_length(Mastodon, "@bob hi"), 7);
        assert_eq!(
            platform_length(Mastodon, "x https://example.com/longer/than/23/chars"),
            25
        );
        assert_eq!(platform_length(Mastodon, "example.com"), 11); // No scheme: not a link.
        assert_eq!(platform_length(Bluesky, FAMILY), 1);
        assert_eq!(platform_length(Bluesky, "e\u{301}🇫🇷"), 2);
        assert_eq!(platform_length(Tiktok, "😀"), 2);
        assert_eq!(platform_length(Youtube, "é"), 2);
        assert_eq!(platform_length(Linkedin, "é😀"), 2);
    }

    #[test]
    fn extraction() {
        let text = "#Rust #rust, #1 &#39; a#b https://x.com/#frag (#ünïcode) ＃全角";
        assert_eq!(extract_hashtags(text), ["Rust", "ünïcode", "全角"]);
        let text = "@bob, mail me@x.com or @alice@mastodon.social. @Bob @jo.doe.";
        assert_eq!(
            extract_mentions(text),
            ["bob", "alice@mastodon.social", "jo.doe"]
        );
    }

    #[test]
    fn composed_text_appends_missing_hashtags() {
        let tags = ["summer", "#Sale", " big deal ", "SALE", "#"].map(String::from);
        let fields = BTreeMap::new();
        let (mentions, media) = (&[][..], &[][..]);
        let d = |text| PlatformDraft {
            text,
            hashtags: &tags,
            mentions,
            fields: &fields,
            media,
        };
        assert_eq!(
            composed_text(&d("Hello #Summer\n")),
            "Hello #Summer\n\n#Sale #bigdeal"
        );
        assert_eq!(composed_text(&d("")), "#summer #Sale #bigdeal");
        let plain = PlatformDraft {
            hashtags: &[],
            ..d("as is ")
        };
        assert_eq!(composed_text(&plain), "as is ");
    }

    #[test]
    fn numbers_as_platforms_print_them() {
        assert_eq!(
            [num(500), num(63_206), num(1_000_000)],
            ["500", "63,206", "1,000,000"]
        );
        assert_eq!(unit_and_note(Youtube).0, "bytes");
    }
}

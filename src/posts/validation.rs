//! Per-platform post validation.
//!
//! A post that looks fine in our editor must not be refused at publish time, hours
//! later, when nobody is watching. Every network counts "characters" its own way: X
//! weighs code points (CJK and emoji count 2, every link 23), Bluesky and Mastodon count
//! what a reader sees as one character (grapheme clusters), TikTok and Telegram count
//! UTF-16 code units, YouTube counts UTF-8 bytes, Threads counts emoji by their UTF-8
//! bytes. So each rule below mirrors the platform's own documentation, and every
//! [`Problem`] says which rule broke, with the limit and the count, while the user can
//! still fix the post.
//!
//! Known approximations: input is assumed to be NFC (browsers send NFC; X normalises
//! first), and bare domains (no `http://`) are recognised for a list of common TLDs
//! rather than twitter-text's full list.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// A network a post can be published to. The serde names are the API's platform keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Facebook,
    Instagram,
    X,
    Linkedin,
    Tiktok,
    Youtube,
    Pinterest,
    GoogleBusiness,
    Telegram,
    Threads,
    Mastodon,
    Bluesky,
}

impl Platform {
    pub const ALL: [Platform; 12] = {
        use Platform::*;
        [
            Facebook,
            Instagram,
            X,
            Linkedin,
            Tiktok,
            Youtube,
            Pinterest,
            GoogleBusiness,
            Telegram,
            Threads,
            Mastodon,
            Bluesky,
        ]
    };

    /// The API key (equal to the serde name) and the name people know the network by.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Platform::Facebook => ("facebook", "Facebook"),
            Platform::Instagram => ("instagram", "Instagram"),
            Platform::X => ("x", "X"),
            Platform::Linkedin => ("linkedin", "LinkedIn"),
            Platform::Tiktok => ("tiktok", "TikTok"),
            Platform::Youtube => ("youtube", "YouTube"),
            Platform::Pinterest => ("pinterest", "Pinterest"),
            Platform::GoogleBusiness => ("google_business", "Google Business Profile"),
            Platform::Telegram => ("telegram", "Telegram"),
            Platform::Threads => ("threads", "Threads"),
            Platform::Mastodon => ("mastodon", "Mastodon"),
            Platform::Bluesky => ("bluesky", "Bluesky"),
        }
    }

    pub fn as_str(&self) -> &'static str {
        self.names().0
    }

    /// Parses an API key, case-insensitively; "twitter" is accepted for X.
    pub fn parse(s: &str) -> Option<Platform> {
        let s = s.trim().to_ascii_lowercase();
        let s = if s == "twitter" { "x" } else { &s };
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The name used in messages ("LinkedIn", "Google Business Profile").
    pub fn display_name(&self) -> &'static str {
        self.names().1
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Gif,
}

/// What one platform will receive: the text (override or shared caption), explicit
/// hashtags/mentions, custom fields, media kinds.
#[derive(Clone, Copy, Debug)]
pub struct PlatformDraft<'a> {
    pub text: &'a str,
    pub hashtags: &'a [String],
    pub mentions: &'a [String],
    pub fields: &'a BTreeMap<String, String>,
    pub media: &'a [MediaKind],
}

/// One reason a platform would refuse the post (the API contract's `Problem`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub code: String,
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<u64>,
}

fn problem(code: &str, field: &str, message: String) -> Problem {
    let (code, field) = (code.to_string(), field.to_string());
    let (limit, actual) = (None, None);
    Problem {
        code,
        field,
        message,
        limit,
        actual,
    }
}

impl Problem {
    fn counts(mut self, limit: usize, actual: usize) -> Self {
        (self.limit, self.actual) = (Some(limit as u64), Some(actual as u64));
        self
    }
}

/// Platform limits for UIs: max text length, max hashtags, max media etc.
#[derive(Clone, Debug, Serialize)]
pub struct PlatformRules {
    pub platform: Platform,
    pub name: &'static str,
    pub max_length: usize,
    pub max_hashtags: Option<usize>,
    pub max_mentions: Option<usize>,
    pub max_media: usize,
    pub requires_media: bool,
    pub required_fields: &'static [&'static str],
}

/// Limits of `platform`, each from the platform's publishing documentation.
pub fn rules(platform: Platform) -> PlatformRules {
    use Platform::*;
    let (max_length, requires_media, required_fields): (_, _, &[&str]) = match platform {
        Facebook => (63_206, false, &[]),        // Page post message limit.
        Instagram => (2_200, true, &[]),         // Graph API caption; feed posts need media.
        X => (280, false, &[]),                  // twitter-text v3 maxWeightedTweetLength.
        Linkedin => (3_000, false, &[]),         // Posts API commentary.
        Tiktok => (2_200, true, &[]),            // Content Posting API: 2,200 UTF-16 runes.
        Youtube => (5_000, true, &["title"]),    // videos.insert: 5,000-byte description.
        Pinterest => (500, true, &["board_id"]), // Pin description; a Pin needs a board.
        GoogleBusiness => (1_500, false, &[]),   // localPosts summary.
        Telegram => (4_096, false, &[]),         // sendMessage; captions are shorter.
        Threads => (500, false, &[]),            // Threads API text posts.
        Mastodon => (500, false, &[]),           // Default instance MAX_CHARS.
        Bluesky => (300, false, &[]),            // app.bsky.feed.post maxGraphemes.
    };
    // Instagram: 30 hashtags and 20 @ tags per caption; Threads: one topic tag.
    let (max_hashtags, max_mentions) = match platform {
        Instagram => (Some(30), Some(20)),
        Threads => (Some(1), None),
        _ => (None, None),
    };
    let max_media = match media_rule(platform) {
        MediaRule::Any(n) | MediaRule::ImagesOrVideo(n, _) => n,
        MediaRule::OneVideo => 1,
    };
    let name = platform.display_name();
    PlatformRules {
        platform,
        name,
        max_length,
        max_hashtags,
        max_mentions,
        max_media,
        requires_media,
        required_fields,
    }
}

/// How many attachments of which kind a platform takes in one post.
#[derive(Clone, Copy)]
enum MediaRule {
    /// Up to this many items of any kind, mixed freely.
    Any(usize),
    /// Up to this many images, or one video, never both; `true`: a GIF counts as video.
    ImagesOrVideo(usize, bool),
    /// Exactly one video (YouTube).
    OneVideo,
}

fn media_rule(platform: Platform) -> MediaRule {
    use MediaRule::*;
    use Platform::*;
    match platform {
        Facebook | GoogleBusiness => Any(10), // Multi-photo posts; GBP media.
        Instagram => Any(10),                 // Carousel of up to 10.
        Telegram => Any(10),                  // sendMediaGroup: 2-10 items.
        Threads => Any(20),                   // Carousel of up to 20.
        X => ImagesOrVideo(4, true),          // 4 photos, or 1 video or GIF.
        Linkedin => ImagesOrVideo(20, false), // MultiImage: 2-20 images, or 1 video.
        Tiktok => ImagesOrVideo(35, false),   // 1 video, or a 1-35 photo post.
        Youtube => OneVideo,
        Pinterest => ImagesOrVideo(5, false), // 1 image/video, or a 2-5 image carousel.
        Mastodon => ImagesOrVideo(4, false),  // PostStatusService: 4, video alone.
        Bluesky => ImagesOrVideo(4, true),    // embed: 4 images or 1 video (GIF → video).
    }
}

static HASHTAG_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^\w&/#＃@])[#＃](\w*\pL\w*)").unwrap());
// Not after a word char (skips e-mail addresses); may carry a Mastodon remote domain.
static MENTION_RE: LazyLock<Regex> = LazyLock::new(|| {
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

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
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
fn is_emoji(g: &str) -> bool {
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
fn counting(platform: Platform) -> (&'static str, &'static str) {
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
fn num(n: usize) -> String {
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

/// A field's value; blank counts as absent.
fn field<'a>(d: &PlatformDraft<'a>, key: &str) -> Option<&'a str> {
    let value = d.fields.get(key)?.trim();
    (!value.is_empty()).then_some(value)
}

/// An absolute http(s) URL with a dotted host, as link fields require.
fn is_http_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").unwrap_or_default();
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_ok = host.contains('.') && !host.starts_with('.') && !host.ends_with('.');
    matches!(scheme, "http" | "https") && host_ok && !s.contains(char::is_whitespace)
}

/// Collects problems for one platform, so each rule reads as one line.
struct Report<'a> {
    name: &'static str,
    draft: &'a PlatformDraft<'a>,
    out: Vec<Problem>,
}

impl Report<'_> {
    fn add(&mut self, code: &str, field: &str, message: String) {
        self.out.push(problem(code, field, message));
    }

    fn over(&mut self, code: &str, field: &str, limit: usize, actual: usize, msg: String) {
        if actual > limit {
            let problem = problem(code, field, msg);
            self.out.push(problem.counts(limit, actual));
        }
    }

    /// "X allows 4 images per post; this post has 5."
    fn count(&mut self, code: &str, field: &str, limit: usize, actual: usize, what: &str) {
        let name = self.name;
        let msg = format!("{name} allows {limit} {what} per post; this post has {actual}.");
        self.over(code, field, limit, actual, msg);
    }

    fn one_of(&mut self, key: &str, allowed: &[&str]) {
        if let Some(v) = field(self.draft, key).filter(|v| !allowed.contains(v)) {
            let (name, allowed) = (self.name, allowed.join(", "));
            let msg = format!("{name} {key} must be one of {allowed}; got \"{v}\".");
            self.add("invalid_field", &format!("fields.{key}"), msg);
        }
    }

    fn title(&mut self, max: usize) {
        let len = field(self.draft, "title").map_or(0, |t| t.chars().count());
        let name = self.name;
        let msg = format!("{name} allows {max} characters in a title; this one has {len}.");
        self.over("too_long", "fields.title", max, len, msg);
    }

    fn media(&mut self, rule: MediaRule) {
        let (name, media) = (self.name, self.draft.media);
        let count = |pred: fn(&MediaKind) -> bool| media.iter().filter(|m| pred(m)).count();
        match rule {
            MediaRule::Any(max) => self.count("too_many_media", "media", max, media.len(), "items"),
            MediaRule::ImagesOrVideo(max, gif_is_video) => {
                let videos = match gif_is_video {
                    true => count(|m| *m != MediaKind::Image),
                    false => count(|m| *m == MediaKind::Video),
                };
                let images = media.len() - videos;
                if videos > 0 && images > 0 {
                    let msg = format!(
                        "{name} can't mix video and images: use up to {max} images or one video."
                    );
                    self.add("media_mix", "media", msg);
                } else {
                    self.count("too_many_media", "media", 1, videos, "video");
                    self.count("too_many_media", "media", max, images, "images");
                }
            }
            MediaRule::OneVideo if !media.is_empty() && !media.contains(&MediaKind::Video) => {
                let msg = format!("{name} uploads a video: attach one video.");
                self.add("media_required", "media", msg);
            }
            MediaRule::OneVideo => self.count("too_many_media", "media", 1, media.len(), "video"),
        }
    }
}

/// Everything `platform` would refuse in this draft; empty means it can be published.
pub fn validate(platform: Platform, d: &PlatformDraft) -> Vec<Problem> {
    let (name, rules, text) = (platform.display_name(), rules(platform), composed_text(d));
    let mut r = Report {
        name,
        draft: d,
        out: Vec::new(),
    };

    if text.trim().is_empty() && d.media.is_empty() {
        let msg = format!("There is nothing to post to {name}: add text or media.");
        r.add("empty", "text", msg);
    }

    // Telegram: a caption sent with media may only be 1,024 UTF-16 units.
    let (limit, context) = match platform {
        Platform::Telegram if !d.media.is_empty() => (1_024, " in a caption with media"),
        _ => (rules.max_length, ""),
    };
    let len = platform_length(platform, &text);
    let (unit, note) = counting(platform);
    let (max, got) = (num(limit), num(len));
    let msg = format!("{name} allows {max} {unit}{context}; this text counts {got}{note}.");
    r.over("too_long", "text", limit, len, msg);
    if platform == Platform::Bluesky {
        // app.bsky.feed.post also caps text at 3,000 UTF-8 bytes (maxLength).
        let bytes = text.len();
        let msg = format!("Bluesky allows 3,000 bytes; this text has {}.", num(bytes));
        r.over("too_long", "text", 3_000, bytes, msg);
    }

    if let Some(max) = rules.max_hashtags {
        let n = extract_hashtags(&text).len();
        let what = if max == 1 {
            "hashtag (topic tag)"
        } else {
            "hashtags"
        };
        r.count("too_many_hashtags", "hashtags", max, n, what);
    }
    if let Some(max) = rules.max_mentions {
        let explicit = d.mentions.iter().map(|m| m.trim().trim_start_matches('@'));
        let explicit = explicit.filter(|m| !m.is_empty()).map(String::from);
        let n = dedup(extract_mentions(&text).into_iter().chain(explicit)).len();
        r.count("too_many_mentions", "mentions", max, n, "@mentions");
    }

    if rules.requires_media && d.media.is_empty() {
        let what = match platform {
            Platform::Youtube => "a video",
            Platform::Tiktok => "a video or photos",
            _ => "an image or video",
        };
        let msg = format!("{name} posts need {what}.");
        r.add("media_required", "media", msg);
    }
    r.media(media_rule(platform));

    for key in rules.required_fields {
        if field(d, key).is_none() {
            let msg = format!("{name} requires the field \"{key}\".");
            r.add("field_required", &format!("fields.{key}"), msg);
        }
    }

    match platform {
        Platform::Tiktok => {
            // Photo posts take JPEG/WebP and videos MP4/WebM/MOV: a GIF is neither.
            if d.media.contains(&MediaKind::Gif) {
                let msg = "TikTok does not take GIFs; convert the GIF to a video.";
                r.add("invalid_field", "media", msg.into());
            }
            let levels = [
                "PUBLIC_TO_EVERYONE",
                "MUTUAL_FOLLOW_FRIENDS",
                "FOLLOWER_OF_CREATOR",
                "SELF_ONLY",
            ];
            r.one_of("privacy_level", &levels);
        }
        Platform::Youtube => {
            r.title(100);
            // videos.insert rejects '<' and '>' in the title and the description.
            if field(d, "title").is_some_and(|t| t.contains(['<', '>'])) {
                let msg = "YouTube titles can't contain '<' or '>'.";
                r.add("invalid_field", "fields.title", msg.into());
            }
            if text.contains(['<', '>']) {
                let msg = "YouTube descriptions can't contain '<' or '>'.";
                r.add("invalid_field", "text", msg.into());
            }
            r.one_of("privacy_status", &["public", "unlisted", "private"]);
        }
        Platform::Pinterest => {
            r.title(100);
            if field(d, "link").is_some_and(|l| !is_http_url(l) || l.len() > 2_048) {
                let msg = "Pinterest links must be http(s) URLs of at most 2,048 characters.";
                r.add("invalid_field", "fields.link", msg.into());
            }
        }
        Platform::GoogleBusiness => {
            let actions = ["BOOK", "ORDER", "SHOP", "LEARN_MORE", "SIGN_UP", "CALL"];
            r.one_of("call_to_action", &actions);
            // Every button but CALL (which dials the listed number) opens a URL.
            let cta = field(d, "call_to_action").filter(|a| actions.contains(a) && *a != "CALL");
            let key = "fields.call_to_action_url";
            match (cta, field(d, "call_to_action_url")) {
                (Some(a), None) => {
                    let msg = format!("{name} needs a call_to_action_url for the {a} button.");
                    r.add("field_required", key, msg);
                }
                (Some(_), Some(url)) if !is_http_url(url) => {
                    let msg = format!("{name} call_to_action_url must be an http(s) URL.");
                    r.add("invalid_field", key, msg);
                }
                _ => {}
            }
        }
        _ => {}
    }
    r.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Platform::*;

    const FAMILY: &str = "👨\u{200d}👩\u{200d}👧\u{200d}👦";

    /// Runs `validate`. `media`: a letter per item (i image, v video, g gif); `fields`:
    /// "key=value;key=value"; `extra`: explicit hashtags, and mentions starting with '@'.
    fn run(p: Platform, text: &str, media: &str, fields: &str, extra: &[&str]) -> Vec<Problem> {
        let kind = |c| match c {
            'i' => MediaKind::Image,
            'v' => MediaKind::Video,
            _ => MediaKind::Gif,
        };
        let media: Vec<MediaKind> = media.chars().map(kind).collect();
        let pairs = fields.split(';').filter_map(|kv| kv.split_once('='));
        let fields: BTreeMap<String, String> = pairs.map(|(k, v)| (k.into(), v.into())).collect();
        let (ats, tags): (Vec<String>, _) = extra
            .iter()
            .map(|t| t.to_string())
            .partition(|t| t.starts_with('@'));
        let d = PlatformDraft {
            text,
            hashtags: &tags,
            mentions: &ats,
            fields: &fields,
            media: &media,
        };
        validate(p, &d)
    }

    /// The problems as "code@field(limit/actual)", space-separated ("" when valid).
    fn summary(problems: &[Problem]) -> String {
        let one = |p: &Problem| match (p.limit, p.actual) {
            (Some(l), Some(a)) => format!("{}@{}({l}/{a})", p.code, p.field),
            _ => format!("{}@{}", p.code, p.field),
        };
        problems.iter().map(one).collect::<Vec<_>>().join(" ")
    }

    /// `case!(platform, text, media, fields [, extra...] => "summary")`, see `run`.
    macro_rules! case {
        ($p:expr, $text:expr, $media:expr, $fields:expr $(, $extra:expr)* => $want:expr) => {
            let got = run($p, &$text, &$media, &$fields, &[$($extra),*]);
            assert_eq!(summary(&got), $want, "{:?}: {:?}", $p, got);
        };
    }

    fn a(n: usize) -> String {
        "a".repeat(n)
    }

    fn i(n: usize) -> String {
        "i".repeat(n)
    }

    #[test]
    fn platform_names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert_eq!(Platform::parse(" Twitter "), Some(X));
        assert_eq!(Platform::parse("myspace"), None);
        assert_eq!(GoogleBusiness.display_name(), "Google Business Profile");
    }

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
    fn x_length_and_media() {
        case!(X, a(281), "", "" => "too_long@text(280/281)");
        let msg = "X allows 280 characters; this text counts 281 (URLs count as 23";
        assert!(run(X, &a(281), "", "", &[])[0].message.starts_with(msg));
        case!(X, "你".repeat(140), "iiii", "" => "");
        case!(X, "", "iiiii", "" => "too_many_media@media(4/5)");
        case!(X, "", "ig", "" => "media_mix@media");
        case!(X, "", "vv", "" => "too_many_media@media(1/2)");
    }

    #[test]
    fn facebook_limits() {
        case!(Facebook, a(63_206), i(10), "" => "");
        case!(Facebook, a(63_207), i(11), "" =>
            "too_long@text(63206/63207) too_many_media@media(10/11)");
        assert!(run(Facebook, &a(63_207), "", "", &[])[0]
            .message
            .contains("63,206"));
    }

    #[test]
    fn instagram_media_hashtags_and_mentions() {
        case!(Instagram, "hi", "", "" => "media_required@media");
        case!(Instagram, a(2_201), "i", "" => "too_long@text(2200/2201)");
        case!(Instagram, "", i(11), "" => "too_many_media@media(10/11)");
        // 29 tags in the text plus explicit ones, each counted once in the composed text.
        let text: String = (0..29).map(|i| format!("#t{i} ")).collect();
        case!(Instagram, text, "v", "", "t0", "extra" => "");
        case!(Instagram, text, "v", "", "extra", "#more" => "too_many_hashtags@hashtags(30/31)");
        let text: String = (0..20).map(|i| format!("@user{i} ")).collect();
        case!(Instagram, text, "i", "", "@user0" => "");
        case!(Instagram, text, "i", "", "@someone" => "too_many_mentions@mentions(20/21)");
    }

    #[test]
    fn linkedin_limits() {
        case!(Linkedin, a(3_001), "", "" => "too_long@text(3000/3001)");
        case!(Linkedin, "x", i(20), "" => "");
        case!(Linkedin, "x", i(21), "" => "too_many_media@media(20/21)");
        case!(Linkedin, "x", "iv", "" => "media_mix@media");
    }

    #[test]
    fn tiktok_rules() {
        // 1,100 emoji are 2,200 UTF-16 units; one more is too long.
        case!(Tiktok, "😀".repeat(1_100), "v", "" => "");
        case!(Tiktok, "😀".repeat(1_101), "v", "" => "too_long@text(2200/2202)");
        case!(Tiktok, "x", "", "" => "media_required@media");
        case!(Tiktok, "x", i(35), "privacy_level=SELF_ONLY" => "");
        case!(Tiktok, "x", i(36), "" => "too_many_media@media(35/36)");
        case!(Tiktok, "x", "g", "" => "invalid_field@media");
        case!(Tiktok, "x", "v", "privacy_level=friends" => "invalid_field@fields.privacy_level");
    }

    #[test]
    fn youtube_rules() {
        case!(Youtube, "desc", "v", "title=My video;privacy_status=unlisted" => "");
        case!(Youtube, "desc", "i", "" => "media_required@media field_required@fields.title");
        case!(Youtube, "desc", "vv", "title=t" => "too_many_media@media(1/2)");
        // 2,501 "é" are 2,501 characters but 5,002 bytes.
        case!(Youtube, "é".repeat(2_501), "v", format!("title={}", a(101)) =>
            "too_long@text(5000/5002) too_long@fields.title(100/101)");
        let msg = "YouTube allows 5,000 bytes; this text counts 5,002";
        assert!(run(Youtube, &"é".repeat(2_501), "v", "title=t", &[])[0]
            .message
            .starts_with(msg));
        case!(Youtube, "a <b>", "v", "title=1 > 0;privacy_status=Public" =>
            "invalid_field@fields.title invalid_field@text invalid_field@fields.privacy_status");
    }

    #[test]
    fn pinterest_rules() {
        case!(Pinterest, "d", "i", "board_id=1;title=Pin;link=https://example.com/p?x=1" => "");
        case!(Pinterest, "d", "iiiii", "board_id=1" => "");
        case!(Pinterest, "d", "vv", "board_id=1" => "too_many_media@media(1/2)");
        case!(Pinterest, a(501), "", format!("link=example.com;title={}", a(101)) =>
            "too_long@text(500/501) media_required@media field_required@fields.board_id \
             too_long@fields.title(100/101) invalid_field@fields.link");
        let link = format!("board_id=1;link=https://example.com/{}", a(2_040));
        case!(Pinterest, "d", "v", link => "invalid_field@fields.link");
    }

    #[test]
    fn google_business_rules() {
        case!(GoogleBusiness, a(1_501), "", "" => "too_long@text(1500/1501)");
        case!(GoogleBusiness, "Call us", "", "call_to_action=CALL" => "");
        let book = "call_to_action=BOOK;call_to_action_url=https://example.com/book";
        case!(GoogleBusiness, "Book now", "i", book => "");
        case!(GoogleBusiness, "x", "", "call_to_action=LEARN_MORE" =>
            "field_required@fields.call_to_action_url");
        case!(GoogleBusiness, "x", "", "call_to_action=SHOP;call_to_action_url=ftp://x.org" =>
            "invalid_field@fields.call_to_action_url");
        case!(GoogleBusiness, "x", "", "call_to_action=BUY" =>
            "invalid_field@fields.call_to_action");
    }

    #[test]
    fn telegram_caption_is_shorter_with_media() {
        case!(Telegram, a(1_025), "", "" => "");
        case!(Telegram, a(1_025), "i", "" => "too_long@text(1024/1025)");
        assert!(run(Telegram, &a(1_025), "i", "", &[])[0]
            .message
            .contains("caption"));
        case!(Telegram, a(4_097), "", "" => "too_long@text(4096/4097)");
        case!(Telegram, "", i(11), "" => "too_many_media@media(10/11)");
    }

    #[test]
    fn threads_rules() {
        assert_eq!(platform_length(Threads, "hi 😀"), 7);
        case!(Threads, "😀".repeat(125), "", "" => "");
        case!(Threads, "😀".repeat(126), "", "" => "too_long@text(500/504)");
        case!(Threads, "one #topic", "", "", "topic" => "");
        case!(Threads, "one #topic", "", "", "another" => "too_many_hashtags@hashtags(1/2)");
        case!(Threads, "", "v".repeat(21), "" => "too_many_media@media(20/21)");
    }

    #[test]
    fn mastodon_counts_links_and_remote_mentions() {
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
        let text = format!(
            "{}{}",
            "@someone@mastodon.example.social ".repeat(40),
            a(100)
        );
        case!(Mastodon, text, "", "" => "");
        case!(Mastodon, a(501), "", "" => "too_long@text(500/501)");
        case!(Mastodon, "", "iigi", "" => "");
        case!(Mastodon, "", "iiiii", "" => "too_many_media@media(4/5)");
        case!(Mastodon, "", "iv", "" => "media_mix@media");
    }

    #[test]
    fn bluesky_counts_graphemes() {
        assert_eq!(platform_length(Bluesky, FAMILY), 1);
        assert_eq!(platform_length(Bluesky, "e\u{301}🇫🇷"), 2);
        case!(Bluesky, "é".repeat(300), "", "" => "");
        case!(Bluesky, a(301), "", "" => "too_long@text(300/301)");
        // 150 family emoji: 150 graphemes, but 3,750 bytes, over the 3,000-byte cap.
        case!(Bluesky, FAMILY.repeat(150), "", "" => "too_long@text(3000/3750)");
        case!(Bluesky, "", "iiii", "" => "");
        case!(Bluesky, "", "ig", "" => "media_mix@media");
    }

    #[test]
    fn empty_post_is_reported_everywhere() {
        for p in Platform::ALL {
            assert!(
                summary(&run(p, " \n", "", "", &[])).starts_with("empty@text"),
                "{p:?}"
            );
        }
        case!(X, "", "i", "" => "");
        case!(X, "", "", "", "tag" => "");
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
    fn rules_and_serialization() {
        let r = rules(Instagram);
        let got = (
            r.max_length,
            r.max_hashtags,
            r.max_mentions,
            r.max_media,
            r.requires_media,
        );
        assert_eq!(got, (2_200, Some(30), Some(20), 10, true));
        assert_eq!(rules(Youtube).required_fields, ["title"]);
        let json = serde_json::to_value(rules(GoogleBusiness)).unwrap();
        assert_eq!(json["platform"], "google_business");
        let p = serde_json::to_value(problem("empty", "text", "m".into())).unwrap();
        assert_eq!(
            p,
            serde_json::json!({"code": "empty", "field": "text", "message": "m"})
        );
        assert_eq!(
            [num(500), num(63_206), num(1_000_000)],
            ["500", "63,206", "1,000,000"]
        );
    }
}

//! Validating a draft against one platform's rules: every [`Problem`] says which rule
//! broke, with the limit and the count, while the user can still fix the post.

use serde::{Deserialize, Serialize};

use super::counting::{
    composed_text, dedup, extract_hashtags, extract_mentions, num, platform_length, unit_and_note,
};
use super::{media_rule, rules, MediaKind, MediaRule, Platform, PlatformDraft};

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
    let (unit, note) = unit_and_note(platform);
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
    use std::collections::BTreeMap;

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
        case!(Threads, "😀".repeat(125), "", "" => "");
        case!(Threads, "😀".repeat(126), "", "" => "too_long@text(500/504)");
        case!(Threads, "one #topic", "", "", "topic" => "");
        case!(Threads, "one #topic", "", "", "another" => "too_many_hashtags@hashtags(1/2)");
        case!(Threads, "", "v".repeat(21), "" => "too_many_media@media(20/21)");
    }

    #[test]
    fn mastodon_counts_links_and_remote_mentions() {
        // Remote mentions count only their local part.
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
    fn problems_serialise_without_empty_counts() {
        let p = serde_json::to_value(problem("empty", "text", "m".into())).unwrap();
        assert_eq!(
            p,
            serde_json::json!({"code": "empty", "field": "text", "message": "m"})
        );
    }
}

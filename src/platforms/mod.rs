//! The networks a post can be published to, and their rules.
//!
//! A post that looks fine in our editor must not be refused at publish time, hours
//! later, when nobody is watching. So each platform's limits live here, each from the
//! platform's own documentation, ready for the validator and the publishers:
//!
//! - this module: [`Platform`] (names, parsing), [`MediaKind`], [`PlatformDraft`] (what
//!   one platform will receive), the rules table ([`rules`],
//!   served by `GET /api/platforms`) and how many attachments of which kind each takes;
//! - [`counting`]: the text as it will be sent (explicit hashtags appended), how each
//!   network counts its "characters" (X weighs code points and links, Bluesky counts
//!   graphemes, TikTok UTF-16 units, YouTube bytes…), and hashtag, mention and link
//!   extraction;
//! - [`validation`]: everything a platform would refuse in a draft, as [`Problem`]s that
//!   say which rule broke, with the limit and the count.

pub mod counting;
pub mod validation;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use counting::{
    composed_text, extract_hashtags, extract_mentions, platform_length, x_weighted_length,
};
pub use validation::{validate, Problem};

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
#[derive(Clone, Copy, Debug)]
pub(crate) enum MediaRule {
    /// Up to this many items of any kind, mixed freely.
    Any(usize),
    /// Up to this many images, or one video, never both; `true`: a GIF counts as video.
    ImagesOrVideo(usize, bool),
    /// Exactly one video (YouTube).
    OneVideo,
}

pub(crate) fn media_rule(platform: Platform) -> MediaRule {
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

#[cfg(test)]
mod tests {
    use super::*;
    use Platform::*;

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
    fn rules_table() {
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
        assert_eq!(rules(Youtube).max_media, 1);
        let json = serde_json::to_value(rules(GoogleBusiness)).unwrap();
        assert_eq!(json["platform"], "google_business");
        assert_eq!(json["name"], "Google Business Profile");
    }
}

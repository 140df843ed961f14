//! A post's status and the one table of the moves between statuses.
//!
//! Like [`crate::roles`], nothing else decides: writes ask [`can_transition`] with the way
//! the move is made ([`Transition`]). [`Transition::Edit`] is the `status` field of
//! `PUT /api/posts/{id}` (back to `draft`, or `archived`); submit, approve, reject, request
//! changes, withdraw and void are made by [`crate::approvals`]; the publishing rows wait for
//! the publisher.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    Draft,
    InReview,
    ChangesRequested,
    Approved,
    Scheduled,
    Publishing,
    Published,
    Failed,
    Archived,
}

impl PostStatus {
    pub const ALL: [PostStatus; 9] = [
        PostStatus::Draft,
        PostStatus::InReview,
        PostStatus::ChangesRequested,
        PostStatus::Approved,
        PostStatus::Scheduled,
        PostStatus::Publishing,
        PostStatus::Published,
        PostStatus::Failed,
        PostStatus::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Draft => "draft",
            PostStatus::InReview => "in_review",
            PostStatus::ChangesRequested => "changes_requested",
            PostStatus::Approved => "approved",
            PostStatus::Scheduled => "scheduled",
            PostStatus::Publishing => "publishing",
            PostStatus::Published => "published",
            PostStatus::Failed => "failed",
            PostStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<PostStatus> {
        PostStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// A stored status; an unknown value (written by a newer version) reads as `draft`.
    pub fn from_db(s: &str) -> PostStatus {
        PostStatus::parse(s).unwrap_or(PostStatus::Draft)
    }

    /// "draft, in_review, …" for error messages.
    pub fn list() -> String {
        PostStatus::ALL.map(PostStatus::as_str).join(", ")
    }
}

impl std::fmt::Display for PostStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a status change is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transition {
    /// Set directly through `PUT /api/posts/{id}` (`status`).
    Edit,
    /// Sent for approval.
    Submit,
    /// A reviewer asked for changes.
    RequestChanges,
    /// A reviewer approved.
    Approve,
    /// A reviewer rejected: the post goes back to draft.
    Reject,
    /// The submitter took it back out of review.
    Withdraw,
    /// The content changed after it was submitted or approved: a new round of review.
    Void,
    /// Given a publication time.
    Schedule,
    /// Taken off the schedule.
    Unschedule,
    /// The publisher started (at the scheduled time, or "publish now").
    StartPublishing,
    /// The publisher finished.
    PublishSucceeded,
    /// The publisher gave up.
    PublishFailed,
}

impl Transition {
    pub const ALL: [Transition; 12] = [
        Transition::Edit,
        Transition::Submit,
        Transition::RequestChanges,
        Transition::Approve,
        Transition::Reject,
        Transition::Withdraw,
        Transition::Void,
        Transition::Schedule,
        Transition::Unschedule,
        Transition::StartPublishing,
        Transition::PublishSucceeded,
        Transition::PublishFailed,
    ];
}

use PostStatus::*;

/// Statuses a post may be pulled out of by hand (not while the publisher holds it, nor
/// once published).
const EDITABLE: &[PostStatus] = &[
    Draft,
    InReview,
    ChangesRequested,
    Approved,
    Failed,
    Archived,
];

/// The transition table: from which statuses a transition leads to which.
fn allowed(by: Transition) -> (&'static [PostStatus], &'static [PostStatus]) {
    match by {
        Transition::Edit => (EDITABLE, &[Draft, Archived]),
        Transition::Submit => (&[Draft, ChangesRequested, Failed], &[InReview]),
        Transition::RequestChanges => (&[InReview, Approved], &[ChangesRequested]),
        // Final approval moves a post that already has a time straight onto the schedule.
        Transition::Approve => (&[InReview], &[Approved, Scheduled]),
        Transition::Reject => (&[InReview], &[Draft]),
        Transition::Withdraw => (&[InReview, Approved, ChangesRequested], &[Draft]),
        Transition::Void => (&[Approved, Scheduled], &[InReview]),
        Transition::Schedule => (&[Approved, Failed], &[Scheduled]),
        Transition::Unschedule => (&[Scheduled], &[Approved]),
        Transition::StartPublishing => (&[Approved, Scheduled, Failed], &[Publishing]),
        Transition::PublishSucceeded => (&[Publishing], &[Published]),
        Transition::PublishFailed => (&[Publishing], &[Failed]),
    }
}

/// Whether a post in `from` may move to `to` by `by`. Staying in the same status is not a
/// move (callers treat it as no change).
pub fn can_transition(from: PostStatus, to: PostStatus, by: Transition) -> bool {
    let (sources, targets) = allowed(by);
    from != to && sources.contains(&from) && targets.contains(&to)
}

/// Statuses `PUT /api/posts/{id}` may set.
pub fn settable_by_edit(to: PostStatus) -> bool {
    allowed(Transition::Edit).1.contains(&to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in PostStatus::ALL {
            assert_eq!(PostStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(PostStatus::parse("deleted"), None);
        assert_eq!(PostStatus::from_db("???"), Draft);
        assert!(PostStatus::list().starts_with("draft, in_review,"));
    }

    #[test]
    fn edits_move_between_draft_and_archived_only() {
        assert!(can_transition(Draft, Archived, Transition::Edit));
        assert!(can_transition(Archived, Draft, Transition::Edit));
        for to in PostStatus::ALL {
            assert_eq!(
                settable_by_edit(to),
                matches!(to, Draft | Archived),
                "{to:?}"
            );
        }
        // Pulled back out of the approval flow by hand, but never out of the publisher's
        // hands or once published.
        for from in [InReview, ChangesRequested, Approved, Failed] {
            assert!(can_transition(from, Draft, Transition::Edit), "{from:?}");
            assert!(can_transition(from, Archived, Transition::Edit), "{from:?}");
        }
        for from in [Scheduled, Publishing, Published] {
            for to in PostStatus::ALL {
                assert!(!can_transition(from, to, Transition::Edit), "{from:?}");
            }
        }
        for to in [InReview, Approved, Scheduled, Published] {
            assert!(!can_transition(Draft, to, Transition::Edit), "{to:?}");
        }
    }

    #[test]
    fn staying_is_never_a_transition() {
        for by in Transition::ALL {
            for s in PostStatus::ALL {
                assert!(!can_transition(s, s, by), "{s:?} by {by:?}");
            }
        }
    }

    #[test]
    fn the_workflow_reaches_published_only_through_publishing() {
        use Transition::*;
        let path = [
            (Draft, InReview, Submit),
            (InReview, ChangesRequested, RequestChanges),
            (ChangesRequested, InReview, Submit),
            (InReview, Approved, Approve),
            (Approved, Scheduled, Schedule),
            (Scheduled, Publishing, StartPublishing),
            (Publishing, Failed, PublishFailed),
            (Failed, Publishing, StartPublishing),
            (Publishing, Published, PublishSucceeded),
        ];
        for (from, to, by) in path {
            assert!(can_transition(from, to, by), "{from:?} -> {to:?} by {by:?}");
        }
        for by in Transition::ALL {
            for from in PostStatus::ALL {
                if can_transition(from, Published, by) {
                    assert_eq!((from, by), (Publishing, PublishSucceeded));
                }
            }
        }
        assert!(!can_transition(Draft, Approved, Approve));
        assert!(!can_transition(Published, Draft, Edit));
    }
}

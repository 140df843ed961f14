//! Notification types: what a user can be notified of, their labels, default channels, and
//! which outbox events produce them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A kind of notification (preferences, templates and the UI use these names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationType {
    ApprovalRequested,
    Approved,
    Rejected,
    ChangesRequested,
    Mentioned,
    DeadlineNear,
    Published,
    Failed,
}

/// The three channels of a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channels {
    pub in_app: bool,
    pub email: bool,
    pub push: bool,
}

impl Channels {
    pub fn any(self) -> bool {
        self.in_app || self.email || self.push
    }
}

impl NotificationType {
    pub const ALL: [NotificationType; 8] = [
        Self::ApprovalRequested,
        Self::Approved,
        Self::Rejected,
        Self::ChangesRequested,
        Self::Mentioned,
        Self::DeadlineNear,
        Self::Published,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApprovalRequested => "approval_requested",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::ChangesRequested => "changes_requested",
            Self::Mentioned => "mentioned",
            Self::DeadlineNear => "deadline_near",
            Self::Published => "published",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// What the preferences page calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::ApprovalRequested => "A post waits for my approval",
            Self::Approved => "My post was approved",
            Self::Rejected => "My post was rejected",
            Self::ChangesRequested => "Changes were requested on my post",
            Self::Mentioned => "Someone mentioned me",
            Self::DeadlineNear => "An approval deadline is near",
            Self::Published => "My post was published",
            Self::Failed => "My post failed to publish",
        }
    }

    /// The channels a user has without overrides: in-app for everything; push for approval
    /// requests and mentions; email for those and deadline reminders.
    pub fn defaults(self) -> Channels {
        let urgent = matches!(self, Self::ApprovalRequested | Self::Mentioned);
        Channels {
            in_app: true,
            push: urgent,
            email: urgent || self == Self::DeadlineNear,
        }
    }

    /// The type an outbox event produces, if any (`data` is the event's payload).
    pub fn of_event(event_type: &str, data: &serde_json::Value) -> Option<Self> {
        Some(match event_type {
            "approval.submitted" | "approval.step_started" | "approval.voided" => {
                Self::ApprovalRequested
            }
            "approval.deadline_passed" => match data["action"].as_str() {
                Some("reassign") | Some("escalate") => Self::ApprovalRequested,
                _ => return None,
            },
            "approval.approved" => Self::Approved,
            "approval.rejected" => Self::Rejected,
            "approval.changes_requested" => Self::ChangesRequested,
            "approval.deadline_near" => Self::DeadlineNear,
            "comment.mentioned" => Self::Mentioned,
            "post.published" => Self::Published,
            "post.publish_failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// `email_digest` of a user.
pub const DIGEST_OFF: &str = "off";
pub const DIGEST_DAILY: &str = "daily";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_defaults_follow_the_spec() {
        for t in NotificationType::ALL {
            assert_eq!(NotificationType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert!(t.defaults().in_app);
        }
        let push: Vec<_> = NotificationType::ALL
            .into_iter()
            .filter(|t| t.defaults().push)
            .map(NotificationType::as_str)
            .collect();
        assert_eq!(push, ["approval_requested", "mentioned"]);
        let email: Vec<_> = NotificationType::ALL
            .into_iter()
            .filter(|t| t.defaults().email)
            .map(NotificationType::as_str)
            .collect();
        assert_eq!(email, ["approval_requested", "mentioned", "deadline_near"]);
        let v = serde_json::json!({ "action": "escalate" });
        assert_eq!(
            NotificationType::of_event("approval.deadline_passed", &v),
            Some(NotificationType::ApprovalRequested)
        );
        let v = serde_json::json!({ "action": "auto_approve" });
        assert_eq!(
            NotificationType::of_event("approval.deadline_passed", &v),
            None
        );
        assert_eq!(NotificationType::of_event("approval.decided", &v), None);
    }
}

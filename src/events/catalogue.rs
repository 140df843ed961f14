//! The event catalogue: every event type Copydesk emits, its payload shape, who may see it,
//! and what it means. `GET /api/events/catalogue` serves it (webhook consumers and the UI
//! read it); payload shapes are in the OpenAPI document.
//!
//! Writes name their event with an [`EventType`] and a payload struct; recording checks
//! that the payload is the one the type documents, so the catalogue cannot drift from what
//! is stored.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

macro_rules! catalogue {
    ($( $variant:ident = $name:literal, $payload:ident, $audience:ident, $desc:literal; )*) => {
        /// Every event type.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ToSchema)]
        pub enum EventType {
            $( #[serde(rename = $name)] $variant, )*
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[ $( EventType::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( EventType::$variant => $name, )* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $( $name => Some(EventType::$variant), )* _ => None }
            }

            /// The payload schema (a component of the OpenAPI document).
            pub fn payload(self) -> &'static str {
                match self { $( EventType::$variant => stringify!($payload), )* }
            }

            pub fn audience(self) -> Audience {
                match self { $( EventType::$variant => Audience::$audience, )* }
            }

            pub fn description(self) -> &'static str {
                match self { $( EventType::$variant => $desc, )* }
            }
        }
    };
}

catalogue! {
    PostCreated = "post.created", PostEvent, SharedPosts, "A post was created.";
    PostUpdated = "post.updated", PostEvent, SharedPosts, "A post's fields changed through the API (live typing updates the post row without an event).";
    PostStatusChanged = "post.status_changed", PostEvent, SharedPosts, "A post moved to another status (`from`, `to`).";
    PostDeleted = "post.deleted", PostEvent, SharedPosts, "A post was deleted.";
    PostDuplicated = "post.duplicated", PostEvent, SharedPosts, "A post was created as a copy of another (`duplicated_from`).";
    PostVersionSaved = "post.version_saved", VersionEvent, SharedPosts, "A version of a post's document was saved (named, or `kind: auto`).";
    PostVersionRestored = "post.version_restored", VersionEvent, SharedPosts, "A post's document was restored from a version (as a new edit).";
    CommentCreated = "comment.created", CommentEvent, ClientComments, "A comment or reply was posted.";
    CommentUpdated = "comment.updated", CommentEvent, ClientComments, "A comment was edited.";
    CommentDeleted = "comment.deleted", CommentEvent, ClientComments, "A comment (and its replies, `reply_ids`) was deleted.";
    CommentResolved = "comment.resolved", CommentEvent, ClientComments, "A comment thread was resolved.";
    CommentReopened = "comment.reopened", CommentEvent, ClientComments, "A resolved thread was reopened.";
    CommentReactionAdded = "comment.reaction_added", CommentEvent, ClientComments, "Someone reacted to a comment (`emoji`, `user_id`).";
    CommentReactionRemoved = "comment.reaction_removed", CommentEvent, ClientComments, "A reaction was taken back.";
    CommentMentioned = "comment.mentioned", CommentEvent, ClientComments, "A member was mentioned in a comment (`user_id`, `by`).";
    MemberJoined = "member.joined", MemberEvent, Team, "Someone joined the workspace (accepted an invitation).";
    MemberInvited = "member.invited", MemberEvent, Team, "An invitation was sent (the invitee's address is not in the event).";
    MemberInvitationRevoked = "member.invitation_revoked", MemberEvent, Team, "A pending invitation was revoked.";
    MemberRoleChanged = "member.role_changed", MemberEvent, Team, "A member's role changed.";
    MemberRemoved = "member.removed", MemberEvent, Team, "A member left or was removed.";
    WorkspaceCreated = "workspace.created", WorkspaceEvent, Team, "A workspace was created.";
    WorkspaceUpdated = "workspace.updated", WorkspaceEvent, Team, "A workspace's name or slug changed.";
    WorkspaceDeleted = "workspace.deleted", WorkspaceEvent, Team, "A workspace was deleted, with everything in it.";
    UserRegistered = "user.registered", UserEvent, Account, "An account was created (account-level; not in workspace streams).";
    UserLoggedOut = "user.logged_out", UserEvent, Account, "A user signed out everywhere.";
    UserPasswordReset = "user.password_reset", UserEvent, Account, "A password was reset through an emailed link.";
    UserProfileUpdated = "user.profile_updated", UserEvent, Account, "A user changed their name or password (`password_changed`).";
    SessionReuseDetected = "session.reuse_detected", UserEvent, Account, "A spent refresh token was presented again: its sign-in was revoked.";
    WebhookEndpointCreated = "webhook.endpoint_created", WebhookEvent, Team, "A webhook endpoint was added.";
    WebhookEndpointUpdated = "webhook.endpoint_updated", WebhookEvent, Team, "A webhook endpoint's settings changed.";
    WebhookEndpointDeleted = "webhook.endpoint_deleted", WebhookEvent, Team, "A webhook endpoint was deleted with its message log.";
    WebhookEndpointDisabled = "webhook.endpoint_disabled", WebhookEvent, Team, "The server disabled a webhook endpoint (`reason`: it answered 410 Gone, or failed for 5 days).";
    WebhookSecretRotated = "webhook.secret_rotated", WebhookEvent, Team, "A webhook endpoint's signing secret was rotated (the previous one signs alongside for 24 h).";
    WebhookSecretRevealed = "webhook.secret_revealed", WebhookEvent, Team, "An admin displayed a webhook endpoint's signing secret.";
    WebhookReplayed = "webhook.replayed", WebhookEvent, Team, "Past events were queued again for a webhook endpoint (`reason` says since when).";
    WebhookTest = "webhook.test", WebhookEvent, Team, "A test message, sent only to the endpoint it was requested for.";
    ApprovalSubmitted = "approval.submitted", ApprovalEvent, SharedPosts, "A post was submitted for approval: a new round started (`recipients`: the approvers now waited on).";
    ApprovalStepStarted = "approval.step_started", ApprovalEvent, SharedPosts, "A step of a post's approval became active (`step`; `recipients`: its approvers).";
    ApprovalDecided = "approval.decided", ApprovalEvent, SharedPosts, "One approver decided on a step (`decision`: approve, reject or request_changes; `by`; `comment`).";
    ApprovalApproved = "approval.approved", ApprovalEvent, SharedPosts, "Every step passed: the post is approved (for the exact content hashed in `content_hash`).";
    ApprovalRejected = "approval.rejected", ApprovalEvent, SharedPosts, "An approver rejected the post: the round ended.";
    ApprovalChangesRequested = "approval.changes_requested", ApprovalEvent, SharedPosts, "An approver asked for changes: the round ended.";
    ApprovalWithdrawn = "approval.withdrawn", ApprovalEvent, SharedPosts, "The post was taken back out of review.";
    ApprovalVoided = "approval.voided", ApprovalEvent, SharedPosts, "The content changed after it was submitted or approved: that round is void and a new one starts (`approval.submitted` follows).";
    ApprovalDeadlineNear = "approval.deadline_near", ApprovalEvent, SharedPosts, "A step's deadline is near (`deadline_at`; `recipients`: who has not decided yet).";
    ApprovalDeadlinePassed = "approval.deadline_passed", ApprovalEvent, SharedPosts, "A step's deadline passed and its rule ran (`action`: remind, reassign, auto_approve or escalate).";
    ShareLinkCreated = "share_link.created", ShareLinkEvent, Team, "A review link was created for some posts (`post_ids`, `permissions`).";
    ShareLinkRevoked = "share_link.revoked", ShareLinkEvent, Team, "A review link was revoked.";
    NotificationCreated = "notification.created", NotificationEvent, Recipient, "An in-app notification for one user (`user_id`); only that user's event stream receives it, webhooks never do.";
}

/// Who, besides the team, may receive an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The workspace's team; clients too when the post is shared with them.
    SharedPosts,
    /// The team; clients only for client-visible comments on shared posts.
    ClientComments,
    /// The workspace's team only.
    Team,
    /// Account events: in the audit log, never in a workspace's stream.
    Account,
    /// One user (`data.user_id`): only that user's event stream; not in the activity feed,
    /// never delivered to webhooks.
    Recipient,
}

/// Payload of `post.*` events.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PostEvent {
    pub post_id: Uuid,
    pub title: String,
    pub status: String,
    /// Whether clients see this post.
    pub client_visible: bool,
    /// `post.status_changed`: the previous status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `post.status_changed`: the new status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `post.duplicated`: the original.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicated_from: Option<Uuid>,
}

/// Payload of `post.version_*` events.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct VersionEvent {
    pub post_id: Uuid,
    pub version_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `auto` for automatic versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub client_visible: bool,
}

/// Payload of `comment.*` events.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CommentEvent {
    pub comment_id: Uuid,
    pub post_id: Uuid,
    /// `client` when clients may see it (a client comment on a shared post), else `internal`.
    pub visibility: String,
    /// The comment as `GET /api/posts/{id}/comments` shows it.
    #[schema(value_type = Object)]
    pub comment: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_ids: Option<Vec<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Uuid>,
}

/// Payload of `member.*` events.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct MemberEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<Uuid>,
}

/// Payload of `workspace.*` events.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WorkspaceEvent {
    pub workspace_id: Uuid,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
}

/// Payload of account events.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct UserEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_changed: Option<bool>,
}

/// Payload of `webhook.*` events (never delivered to webhooks themselves, except
/// `webhook.test` to the endpoint it tests).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WebhookEvent {
    pub endpoint_id: Uuid,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Who acted on an approval: a member, or a named guest through a review link.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApprovalActor {
    pub user_id: Option<Uuid>,
    pub name: String,
    pub share_link_id: Option<Uuid>,
}

/// The step an approval event is about.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApprovalStepRef {
    pub id: Uuid,
    pub name: String,
    pub order: i32,
}

/// Payload of `approval.*` events.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApprovalEvent {
    pub post_id: Uuid,
    pub title: String,
    pub request_id: Uuid,
    pub client_visible: bool,
    /// The post's status after this event.
    pub status: String,
    /// SHA-256 (hex) of the content the round is about.
    pub content_hash: String,
    pub step: Option<ApprovalStepRef>,
    /// `approve`, `reject` or `request_changes` (`approval.decided` and the round's end).
    pub decision: Option<String>,
    pub comment: Option<String>,
    pub by: Option<ApprovalActor>,
    /// `approval.deadline_passed`: remind, reassign, auto_approve or escalate.
    pub action: Option<String>,
    pub deadline_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The users to notify of this event (decided by the approval rules; never the actor).
    pub recipients: Vec<Uuid>,
}

/// Payload of `share_link.*` events.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ShareLinkEvent {
    pub share_link_id: Uuid,
    pub label: Option<String>,
    pub post_ids: Vec<Uuid>,
    pub permissions: Vec<String>,
}

/// Payload of `notification.created`: the notification as `GET /api/notifications` lists it,
/// plus its `user_id`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NotificationEvent {
    pub user_id: Uuid,
    #[schema(value_type = Object)]
    pub notification: serde_json::Value,
}

/// A payload that documents which event types it belongs to.
pub trait EventPayload: Serialize {
    const NAME: &'static str;
}

macro_rules! payload {
    ($($t:ident),*) => { $( impl EventPayload for $t { const NAME: &'static str = stringify!($t); } )* };
}
payload!(
    PostEvent,
    VersionEvent,
    CommentEvent,
    MemberEvent,
    WorkspaceEvent,
    UserEvent,
    WebhookEvent,
    ApprovalEvent,
    ShareLinkEvent,
    NotificationEvent
);

/// One entry of the served catalogue.
#[derive(Serialize, ToSchema)]
pub struct CatalogueEntry {
    /// e.g. `post.status_changed`.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub description: &'static str,
    /// The payload's schema in `/api/openapi.json` (`#/components/schemas/<payload>`).
    pub payload: &'static str,
    pub audience: Audience,
}

#[derive(Serialize, ToSchema)]
pub struct Catalogue {
    pub events: Vec<CatalogueEntry>,
}

pub fn catalogue() -> Catalogue {
    Catalogue {
        events: EventType::ALL
            .iter()
            .map(|t| CatalogueEntry {
                event_type: t.as_str(),
                description: t.description(),
                payload: t.payload(),
                audience: t.audience(),
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/events/catalogue", tag = "events",
    responses((status = 200, body = Catalogue, description = "Every event type: payload schema, audience, meaning")))]
pub async fn serve_catalogue() -> HttpResponse {
    HttpResponse::Ok().json(catalogue())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
            assert!(seen.insert(t.as_str()), "{t:?}");
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert!(!t.description().is_empty());
        }
        assert_eq!(catalogue().events.len(), EventType::ALL.len());
    }
}

//! `DeadlineKeeper`: wakes when the clock reaches the next due moment the store knows of,
//! runs what is due with the clock's time, and looks again; `Rearm` makes it look at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Actor;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use copydesk_actors::approval_deadlines::{DeadlineKeeper, Rearm};
use copydesk_actors::ports::{ApprovalDeadlines, Clock, ManualClock};
use tokio::sync::Notify;

#[derive(Default)]
struct Store {
    due: Mutex<Vec<DateTime<Utc>>>,
    ran: Mutex<Vec<DateTime<Utc>>>,
    fired: Notify,
}

#[async_trait]
impl ApprovalDeadlines for Store {
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, String> {
        Ok(self.due.lock().unwrap().iter().min().copied())
    }

    async fn fire_due(&self, now: DateTime<Utc>) -> Result<usize, String> {
        let mut due = self.due.lock().unwrap();
        let before = due.len();
        due.retain(|d| *d > now);
        let n = before - due.len();
        if n > 0 {
            self.ran.lock().unwrap().push(now);
            self.fired.notify_one();
        }
        Ok(n)
    }
}

#[actix_rt::test]
async fn runs_a_deadline_when_the_clock_reaches_it_and_not_before() {
    let clock = Arc::new(ManualClock::new());
    let store = Arc::new(Store::default());
    let deadline = clock.now() + chrono::Duration::hours(4);
    store.due.lock().unwrap().push(deadline);
    // An hour-long poll: only the clock can wake it in this test.
    let keeper =
        DeadlineKeeper::new(store.clone(), clock.clone(), Duration::from_secs(3600)).start();
    keeper.send(Rearm).await.unwrap();
    clock.advance(Duration::from_secs(3 * 3600));
    keeper.send(Rearm).await.unwrap();
    assert!(store.ran.lock().unwrap().is_empty(), "not due yet");
    clock.advance(Duration::from_secs(3600 + 1));
    tokio::time::timeout(Duration::from_secs(30), store.fired.notified())
        .await
        .expect("the keeper ran the deadline once the clock passed it");
    let ran = store.ran.lock().unwrap().clone();
    assert_eq!(ran.len(), 1);
    assert!(
        ran[0] >= deadline,
        "run with the clock's time, at or after the deadline"
    );
}

#[actix_rt::test]
async fn a_deadline_added_later_is_found_after_a_rearm() {
    let clock = Arc::new(ManualClock::new());
    let store = Arc::new(Store::default());
    let keeper =
        DeadlineKeeper::new(store.clone(), clock.clone(), Duration::from_secs(3600)).start();
    keeper.send(Rearm).await.unwrap();
    store
        .due
        .lock()
        .unwrap()
        .push(clock.now() + chrono::Duration::minutes(10));
    keeper.send(Rearm).await.unwrap();
    clock.advance(Duration::from_secs(11 * 60));
    tokio::time::timeout(Duration::from_secs(30), store.fired.notified())
        .await
        .expect("ran after the rearm");
    assert!(store.due.lock().unwrap().is_empty());
}

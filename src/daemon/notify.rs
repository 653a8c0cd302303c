//! systemd notification (`sd_notify(3)`): READY=1, STATUS=, WATCHDOG=1,
//! STOPPING=1, through the `sd-notify` crate.
//!
//! Without `NOTIFY_SOCKET` (not started by systemd with `Type=notify`) every
//! call is a no-op, so the daemon behaves the same in a terminal. The
//! watchdog interval is half of `WATCHDOG_USEC`, as `sd_watchdog_enabled(3)`
//! recommends; the pings themselves are sent by the scheduler loop after a
//! database check, never by a timer of their own (a stuck loop must stop
//! pinging so that systemd restarts it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;
use tracing::warn;

/// Sends notifications to the service manager, if there is one.
#[derive(Debug)]
pub struct Notifier {
    enabled: bool,
    watchdog: Option<Duration>,
    /// A failing socket is logged once, not on every ping.
    warned: AtomicBool,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`.
    pub fn from_env() -> Notifier {
        Notifier {
            enabled: std::env::var_os("NOTIFY_SOCKET").is_some(),
            watchdog: sd_notify::watchdog_enabled(),
            warned: AtomicBool::new(false),
        }
    }

    /// A notifier that sends nothing (library tests, benchmarks).
    pub fn disabled() -> Notifier {
        Notifier {
            enabled: false,
            watchdog: None,
            warned: AtomicBool::new(false),
        }
    }

    /// How often to ping the watchdog: half its timeout; `None` when
    /// systemd set none.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(ping_interval)
    }

    /// READY=1 with a first status line.
    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// STATUS=… (what `systemctl status` shows).
    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    /// WATCHDOG=1. Call only after checking the loop is healthy.
    pub fn watchdog(&self) {
        self.send(&[NotifyState::Watchdog]);
    }

    /// STOPPING=1 with a status line.
    pub fn stopping(&self, status: &str) {
        self.send(&[NotifyState::Stopping, NotifyState::Status(status)]);
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = sd_notify::notify(states)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            warn!(error = %e, "cannot notify systemd through NOTIFY_SOCKET; going on without it");
        }
    }
}

/// Half the watchdog timeout, at least 100 ms so a tiny timeout cannot spin
/// the loop.
pub fn ping_interval(timeout: Duration) -> Duration {
    (timeout / 2).max(Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_at_half_the_timeout() {
        let table = [
            (Duration::from_secs(120), Duration::from_secs(60)),
            (Duration::from_secs(2), Duration::from_secs(1)),
            (Duration::from_millis(50), Duration::from_millis(100)),
        ];
        for (timeout, want) in table {
            assert_eq!(ping_interval(timeout), want, "{timeout:?}");
        }
    }
}

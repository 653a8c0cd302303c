//! The long-running service: cron schedules, graceful shutdown, systemd
//! notification (work in progress: only the scheduling rules exist yet).

pub mod plan;

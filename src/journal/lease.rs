//! Leases: one process executes a run at a time. A lease names its owner
//! (`pid@host`) and expires; an expired lease, or one whose owner process is gone
//! from this host, may be taken over.

use rusqlite::{OptionalExtension, params};

use super::SqliteJournal;
use crate::clock::{Millis, format_ms};
use crate::error::{Error, ErrorKind, Result};

/// Who executes a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub host: String,
}

impl Owner {
    pub fn new(pid: u32, host: impl Into<String>) -> Owner {
        Owner {
            pid,
            host: host.into(),
        }
    }

    pub fn as_string(&self) -> String {
        format!("{}@{}", self.pid, self.host)
    }

    pub fn parse(s: &str) -> Option<Owner> {
        let (pid, host) = s.split_once('@')?;
        Some(Owner {
            pid: pid.parse().ok()?,
            host: host.to_string(),
        })
    }

    /// Whether this owner's process is still alive. Only decidable for this host;
    /// owners on other hosts are presumed alive until their lease expires.
    pub(super) fn alive_here(&self, me: &Owner) -> bool {
        if self.host != me.host {
            return true;
        }
        if self.pid == me.pid {
            return true;
        }
        process_alive(self.pid)
    }
}

#[cfg(target_os = "linux")]
pub(crate) fn process_alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped) holds no lease either.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn process_alive(_pid: u32) -> bool {
    true
}

/// The lease of a run is held by another live process.
#[derive(Debug, Clone)]
pub struct LeaseHeld {
    pub owner: String,
    pub expires: Millis,
}

impl LeaseHeld {
    pub fn into_error(self, run: i64) -> Error {
        Error::new(
            ErrorKind::Conflict,
            format!(
                "run {run} is being executed by process {} (lease until {})",
                self.owner,
                format_ms(self.expires)
            ),
        )
        .with_hint("wait for it to finish, or stop that process; a dead process's lease is taken over automatically")
    }
}

impl SqliteJournal {
    /// Take the lease of `run` for `owner` for `ttl_ms`. Returns the previous owner
    /// when a dead or expired lease was taken over.
    pub fn acquire_lease(
        &mut self,
        run: i64,
        owner: &Owner,
        ttl_ms: i64,
    ) -> Result<Result<Option<String>, LeaseHeld>> {
        let now = self.now();
        let me = owner.as_string();
        let tx = self.write_tx()?;
        let row: Option<(Option<String>, Option<i64>)> = tx
            .query_row(
                "SELECT lease_owner, lease_expires FROM runs WHERE id = ?1",
                params![run],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((holder, expires)) = row else {
            return Err(
                Error::not_found(format!("no run {run}")).with_hint("list runs with: aios runs")
            );
        };
        let mut previous = None;
        if let Some(h) = holder
            && h != me
        {
            let expires = expires.unwrap_or(0);
            let alive = Owner::parse(&h)
                .map(|o| o.alive_here(owner))
                .unwrap_or(false);
            if expires > now && alive {
                return Ok(Err(LeaseHeld { owner: h, expires }));
            }
            previous = Some(h);
        }
        tx.execute(
            "UPDATE runs SET lease_owner = ?2, lease_expires = ?3 WHERE id = ?1",
            params![run, me, now + ttl_ms],
        )?;
        tx.commit()?;
        Ok(Ok(previous))
    }

    /// Extend our lease. Fails with a conflict if another process took it.
    pub fn renew_lease(&mut self, run: i64, owner: &Owner, ttl_ms: i64) -> Result<()> {
        let now = self.now();
        let _gate = self.gate_guard();
        let n = self.conn.execute(
            "UPDATE runs SET lease_expires = ?3 WHERE id = ?1 AND lease_owner = ?2",
            params![run, owner.as_string(), now + ttl_ms],
        )?;
        if n == 0 {
            return Err(Error::conflict(format!(
                "run {run}: another process took over this run's lease"
            )));
        }
        Ok(())
    }

    /// Give the lease up after driving stopped on an error (only if we hold it): it
    /// expires now but keeps naming us, so the run reads as left behind, not as
    /// about to be driven (an unowned `running` run may be one another process just
    /// created), and `aios tick` continues it at once.
    pub fn abandon_lease(&mut self, run: i64, owner: &Owner) -> Result<()> {
        let _gate = self.gate_guard();
        self.conn.execute(
            "UPDATE runs SET lease_expires = 0 WHERE id = ?1 AND lease_owner = ?2",
            params![run, owner.as_string()],
        )?;
        Ok(())
    }

    /// Who executes a run now, as far as this host can tell: `Some(owner)` while a
    /// live process holds an unexpired lease, `None` when nobody does (no lease, an
    /// expired one, or one whose process on this host is gone).
    pub fn live_executor(&self, run: &super::RunRecord, me: &Owner) -> Option<String> {
        let holder = run.lease_owner.as_ref()?;
        if run.lease_expires.unwrap_or(0) <= self.now() {
            return None;
        }
        let alive = Owner::parse(holder)
            .map(|o| o.alive_here(me))
            .unwrap_or(false);
        alive.then(|| holder.clone())
    }

    /// Give the lease up (only if we hold it).
    pub fn release_lease(&mut self, run: i64, owner: &Owner) -> Result<()> {
        let _gate = self.gate_guard();
        self.conn.execute(
            "UPDATE runs SET lease_owner = NULL, lease_expires = NULL WHERE id = ?1 AND lease_owner = ?2",
            params![run, owner.as_string()],
        )?;
        Ok(())
    }
}

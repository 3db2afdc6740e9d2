//! Leases on PostgreSQL: `journal::lease` — which process executes a run, until
//! when; taken over when expired or when its holder's process is gone, decided on the
//! run's row read `FOR UPDATE`.

use super::PgJournal;
use super::runs::no_run;
use crate::error::{Error, Result};
use crate::journal::store::{LeaseStore, RunStore};
use crate::journal::types::RunRecord;
use crate::journal::{LeaseHeld, Owner};

impl LeaseStore for PgJournal {
    fn acquire_lease(
        &mut self,
        run: i64,
        owner: &Owner,
        ttl_ms: i64,
    ) -> Result<Result<Option<String>, LeaseHeld>> {
        let now = self.now();
        let me = owner.as_string();
        let mut conn = self.conn();
        let mut tx = super::begin(&mut conn)?;
        let row = tx
            .query_opt(
                "SELECT lease_owner, lease_expires FROM runs WHERE id = $1 FOR UPDATE",
                &[&run],
            )?
            .ok_or_else(|| no_run(run))?;
        let (holder, expires): (Option<String>, Option<i64>) = (row.get(0), row.get(1));
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
            "UPDATE runs SET lease_owner = $2, lease_expires = $3 WHERE id = $1",
            &[&run, &me, &(now + ttl_ms)],
        )?;
        tx.commit()?;
        Ok(Ok(previous))
    }

    fn renew_lease(&mut self, run: i64, owner: &Owner, ttl_ms: i64) -> Result<()> {
        let now = self.now();
        let n = self.conn().execute(
            "UPDATE runs SET lease_expires = $3 WHERE id = $1 AND lease_owner = $2",
            &[&run, &owner.as_string(), &(now + ttl_ms)],
        )?;
        if n == 0 {
            return Err(Error::conflict(format!(
                "run {run}: another process took over this run's lease"
            )));
        }
        Ok(())
    }

    fn abandon_lease(&mut self, run: i64, owner: &Owner) -> Result<()> {
        self.conn().execute(
            "UPDATE runs SET lease_expires = 0 WHERE id = $1 AND lease_owner = $2",
            &[&run, &owner.as_string()],
        )?;
        Ok(())
    }

    fn live_executor(&self, run: &RunRecord, me: &Owner) -> Option<String> {
        let holder = run.lease_owner.as_ref()?;
        if run.lease_expires.unwrap_or(0) <= self.now() {
            return None;
        }
        let alive = Owner::parse(holder)
            .map(|o| o.alive_here(me))
            .unwrap_or(false);
        alive.then(|| holder.clone())
    }

    fn release_lease(&mut self, run: i64, owner: &Owner) -> Result<()> {
        self.conn().execute(
            "UPDATE runs SET lease_owner = NULL, lease_expires = NULL WHERE id = $1 AND lease_owner = $2",
            &[&run, &owner.as_string()],
        )?;
        Ok(())
    }
}

//! The use cases: create, read, delete and list bookings (here), fire due timers
//! ([`timers`]) and take the network's word on a booking ([`network`]). Every rule of the
//! CAMARA digest after body parsing is decided here, in the documented order; every change of
//! a booking's state is one of its transition methods, stored with its timer and event in
//! one atomic step.

mod admission;
mod assignment;
mod caller;
mod members;
mod network;
mod operator;
mod profiles;
mod timers;

pub use assignment::{Assignment, DeviceInput, Shortfall};
pub use caller::Caller;
use caller::resolve_device;
pub use members::members_of;
use network::same_secret;
pub use network::{CallbackProof, NetworkEvent, NetworkOutcome};
pub use operator::BookingFilter;
pub use timers::{FixedLease, Lease};

use crate::admission::NetworkAdmission;
use crate::area::Coverage;
use crate::booking::{Booking, BookingId, BookingStatus, NewBooking, Owner, SinkCredential, StatusInfo};
use crate::capacity::{AdmissionDecider, CapacityPlan, PoolClaim, Refusal};
use crate::clients::{ClientBook, ClientRecord};
use crate::clock::Clock;
use crate::device::Device;
use crate::error::Chain;
use crate::error::{Rejection, RejectionKind};
use crate::notify::{Notifier, StatusEvent};
use crate::profile::{Catalog, ProfileStatus};
use crate::resolver::DeviceResolver;
use crate::southbound::Southbound;
use crate::southbound::SouthboundError;
use crate::store::{BookingStore, CreateOutcome, StoreError};
use crate::telemetry::{CallOutcome, NetworkCall, NoTelemetry, Telemetry};
use std::future::Future;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tracing::{Instrument, info, warn};

/// Time rules an operator tunes.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `startTime` must be at least this far in the future.
    pub min_lead: Duration,
    /// `startTime` may be at most this far in the future.
    pub max_horizon: Duration,
    /// How long a TERMINATED booking stays readable (CAMARA: at least 360 s).
    pub retention: Duration,
    /// How long a claimed timer is reserved for one replica before another may redo it (the
    /// scheduler renews the claims of work in progress).
    pub lease: Duration,
    /// How long before `startTime` the activation is sent to the network, so that the QoS is
    /// in place at the start; clients see ACTIVATED from `startTime` on.
    pub activation_lead: Duration,
    /// First retry delay after a transient southbound failure; doubles up to a minute.
    pub retry_base: Duration,
    /// How long after the planned time a failing activation or removal keeps being retried.
    pub retry_deadline: Duration,
    /// Most timers claimed in one pass.
    pub claim_batch: usize,
    /// Most bookings returned by retrieve-by-device (CAMARA maxItems 100).
    pub max_retrieve: usize,
    /// Most live (not TERMINATED) bookings one API client may hold; 0: no limit.
    pub max_live_per_client: usize,
    /// A client's delete of an ACTIVATED booking is accepted at once (202, DELETE_REQUESTED)
    /// and the NEF removal runs in the background with retries.
    pub async_delete: bool,
}

/// How a client's delete went.
#[derive(Debug)]
pub enum Deleted {
    /// Ended (or had ended already): 204.
    Done,
    /// Accepted; the removal runs in the background (202 with the booking).
    Accepted(Box<Booking>),
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            min_lead: Duration::ZERO,
            max_horizon: Duration::days(366),
            retention: Duration::seconds(360),
            lease: Duration::seconds(60),
            activation_lead: Duration::ZERO,
            retry_base: Duration::seconds(1),
            retry_deadline: Duration::seconds(120),
            claim_batch: 100,
            max_retrieve: 100,
            max_live_per_client: 0,
            async_delete: false,
        }
    }
}

pub struct BookingService {
    store: Arc<dyn BookingStore>,
    clock: Arc<dyn Clock>,
    southbound: Arc<dyn Southbound>,
    notifier: Arc<dyn Notifier>,
    catalog: Arc<Catalog>,
    coverage: Coverage,
    policy: Policy,
    resolver: Option<Arc<dyn DeviceResolver>>,
    timer_wake: Option<Arc<dyn TimerWake>>,
    telemetry: Arc<dyn Telemetry>,
    /// The operator's capacity pools (none: every valid booking is admitted); replaced whole
    /// when the catalog is reloaded.
    capacity: std::sync::RwLock<Arc<CapacityPlan>>,
    /// Decides REQUESTED bookings at once, and the outcome when it does not answer.
    decider: Option<(Arc<dyn AdmissionDecider>, bool)>,
    /// The onboarding records of the API clients (profiles, quota, sinks, PRIVATE_KEY_JWT).
    clients: Arc<ClientBook>,
    /// Network-confirmed admission: the network is asked before a booking is SCHEDULED.
    admission: Option<Arc<dyn NetworkAdmission>>,
}

/// Told when a create sets a timer, so that this replica's scheduler, asleep until a later
/// one, wakes in time.
pub trait TimerWake: Send + Sync + 'static {
    fn due(&self, at: OffsetDateTime);
}

/// How often a use case reloads and decides again when a concurrent change (a timer firing on
/// another replica) wins the write.
const WRITE_TRIES: usize = 5;

/// One try of a change: done, or lost to a concurrent write (load and decide again).
enum Attempt<T> {
    Done(T),
    Lost,
}

fn unavailable(e: StoreError) -> Rejection {
    warn!(error = %Chain(&e), "booking storage unavailable");
    Rejection::new(
        RejectionKind::Unavailable,
        format!("booking storage is unavailable: {e}"),
    )
}

/// A sink outside the prefixes of the client's onboarding record is not acceptable.
fn check_sink(record: Option<&ClientRecord>, sink: Option<&str>) -> Result<(), Rejection> {
    if let (Some(sink), Some(r)) = (sink, record)
        && !r.may_notify(sink)
    {
        return Err(Rejection::new(
            RejectionKind::InvalidSink,
            "'sink' is not acceptable: it is not registered for this client",
        ));
    }
    Ok(())
}

impl BookingService {
    pub fn new(
        store: Arc<dyn BookingStore>,
        clock: Arc<dyn Clock>,
        southbound: Arc<dyn Southbound>,
        notifier: Arc<dyn Notifier>,
        catalog: Arc<Catalog>,
        coverage: Coverage,
        policy: Policy,
    ) -> Self {
        Self {
            store,
            clock,
            southbound,
            notifier,
            catalog,
            coverage,
            policy,
            resolver: None,
            timer_wake: None,
            telemetry: Arc::new(NoTelemetry),
            capacity: std::sync::RwLock::new(Arc::new(CapacityPlan::default())),
            decider: None,
            clients: Arc::new(ClientBook::default()),
            admission: None,
        }
    }

    /// Asks the network (`network_admission`) before a booking is SCHEDULED, and releases
    /// what it holds when the booking ends.
    pub fn with_network_admission(mut self, admission: Arc<dyn NetworkAdmission>) -> Self {
        self.admission = Some(admission);
        self
    }

    /// The onboarding record of `client_id`, if it has one.
    pub fn client_record(&self, client_id: &str) -> Option<Arc<crate::clients::ClientRecord>> {
        self.clients.get(client_id)
    }

    /// Applies the onboarding records in `clients` (replaced in place when they change).
    pub fn with_clients(mut self, clients: Arc<ClientBook>) -> Self {
        self.clients = clients;
        self
    }

    /// Asks `decider` about every REQUESTED booking as soon as it is stored (a timer due at
    /// once, so the question survives a restart and is asked by one replica);
    /// `approve_by_default` is the outcome when it does not answer.
    pub fn with_decider(mut self, decider: Arc<dyn AdmissionDecider>, approve_by_default: bool) -> Self {
        self.decider = Some((decider, approve_by_default));
        self
    }

    /// Admits bookings against the operator's capacity pools.
    pub fn with_capacity(self, plan: CapacityPlan) -> Self {
        self.replace_capacity(plan);
        self
    }

    /// Replaces the capacity pools (a reloaded catalog); reservations already made stay.
    pub fn replace_capacity(&self, plan: CapacityPlan) {
        *self.capacity.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(plan);
    }

    /// The capacity pools in force.
    fn plan(&self) -> Arc<CapacityPlan> {
        self.capacity.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Adds the operator's telemetry (timer lag, network calls).
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Runs one southbound call and reports how it went.
    async fn network<T>(
        &self,
        call: NetworkCall,
        id: BookingId,
        f: impl Future<Output = Result<T, SouthboundError>>,
    ) -> Result<T, SouthboundError> {
        // One span per call (its HTTP requests inherit it, and carry it to the NEF in
        // `traceparent`).
        let span = tracing::info_span!(
            "qos_booking.network",
            otel.name = call.span_name(),
            otel.kind = "client",
            qos_booking.id = %id,
            qos_booking.operation = call.as_str(),
            qos_booking.outcome = tracing::field::Empty,
        );
        let started = std::time::Instant::now();
        let r = f.instrument(span.clone()).await;
        let outcome = match &r {
            Ok(_) => CallOutcome::Ok,
            Err(e) if e.is_unavailable() => CallOutcome::Unavailable,
            Err(_) => CallOutcome::Rejected,
        };
        span.record("qos_booking.outcome", outcome.as_str());
        self.telemetry.network_call(call, outcome, started.elapsed());
        r
    }

    /// Adds the scheduler's wake-up, told of every timer a create sets.
    pub fn with_timer_wake(mut self, wake: Arc<dyn TimerWake>) -> Self {
        self.timer_wake = Some(wake);
        self
    }

    /// When `b`'s timer must next fire under this policy.
    fn due_of(&self, b: &Booking) -> Option<OffsetDateTime> {
        b.next_due(self.policy.retention, self.policy.activation_lead)
    }

    /// Adds a device resolver, consulted at create and retrieve.
    pub fn with_resolver(mut self, resolver: Arc<dyn DeviceResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Looks a device up (CAMARA step 5): a phone number must be known to a configured
    /// resolver unless the device also came with an IP address the network can use as is. A
    /// device the resolver knows gets its identity (`Device::resolved`), whichever identifier
    /// found it. Returns whether the resolver knows the device.
    async fn look_up(&self, device: &mut Device) -> Result<bool, Rejection> {
        let Some(resolver) = &self.resolver else {
            return Ok(false);
        };
        if !device.has_supported_identifier() {
            return Ok(false);
        }
        let found = resolver.resolve(device).await.map_err(|e| {
            warn!(error = %Chain(e.as_ref()), "device lookup failed");
            Rejection::new(RejectionKind::Unavailable, format!("device lookup is unavailable: {e}"))
        })?;
        match found {
            Some(r) if !r.eligible => Err(Rejection::new(
                RejectionKind::ServiceNotApplicable,
                "The device's subscription is not eligible for QoS booking",
            )),
            Some(r) => {
                device.resolved = r.id;
                Ok(true)
            }
            None if device.ipv4_address.is_some() || device.ipv6_address.is_some() => Ok(false),
            None => Err(Rejection::new(
                RejectionKind::IdentifierNotFound,
                "The device cannot be found",
            )),
        }
    }

    /// Whether the operator's policy service decides REQUESTED bookings (else the admin API).
    pub(super) fn has_decider(&self) -> bool {
        self.decider.is_some()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn store(&self) -> &Arc<dyn BookingStore> {
        &self.store
    }

    /// Stores a changed booking with its timer and, when `notify`, its status event (one
    /// atomic step); wakes the event delivery on success.
    async fn commit(&self, b: &Booking, notify: bool) -> Result<bool, StoreError> {
        // An activation sent ahead of the start is announced at the start.
        let now = self.clock.now();
        let at = match b.started_at {
            Some(started) if b.status == BookingStatus::Activated => now.max(started),
            _ => now,
        };
        let event = if notify { StatusEvent::for_booking(b, at) } else { None };
        let done = self.store.update(b, self.due_of(b), event.as_ref()).await?;
        if done && event.is_some() {
            self.notifier.wake();
        }
        if done && b.status == BookingStatus::Terminated {
            // A delete, an end or a revocation frees the capacity at once, the network's too.
            self.give_back(&self.plan().pools_of(b), b.id).await;
            // The end is stored whatever follows: a failure to store the release's retry is
            // logged, not reported as the end's.
            if let Err(e) = self.released_or_retried(b).await {
                warn!(booking.id = %b.id, error = %Chain(&e), "could not store the retry of the network's release");
            }
        }
        Ok(done)
    }

    /// Creates a booking: device resolution, business checks, conflict check, then SCHEDULED.
    pub async fn create(&self, caller: &Caller, mut req: NewBooking) -> Result<Booking, Rejection> {
        let record = self.clients.get(&caller.client_id);
        // Part of the body's checks in CAMARA's order, so before the device.
        check_sink(record.as_deref(), req.sink.as_deref())?;
        let (mut device, subject) = resolve_device(caller, req.device.take())?;
        let known = self.look_up(&mut device).await?;
        if !self.southbound.supports_device(&device, known) {
            return Err(Rejection::new(
                RejectionKind::UnsupportedIdentifier,
                "The network can only be reached with an IP address for this device; phone numbers are not supported here",
            ));
        }

        let now = self.clock.now();
        self.check_request(record.as_deref(), &req, now)?;

        self.bind_credential(caller, &mut req.sink_credential)?;

        let owner = Owner {
            client_id: caller.client_id.clone(),
            subject,
        };
        let id = self.store.new_id(&owner, &device.keys());
        let mut booking = Booking::schedule(id, owner, device, req, now);
        booking.origin = self.telemetry.current_trace();
        self.southbound.admit(&booking)?;
        self.check_quota(record.as_deref(), &caller.client_id).await?;
        // Capacity first: a booking the operator cannot honour is declined, and takes nothing.
        let claims = match self.hold_capacity(&booking, now).await? {
            Ok(claims) => claims,
            Err((pool, why)) => return self.decline(booking, now, &pool, why).await,
        };
        let pools: Vec<String> = claims.iter().map(PoolClaim::bucket).collect();
        // Both must agree: the operator's pools, then the network itself.
        if self.ask_network(&mut booking, now).await == admission::Asked::Refused {
            self.give_back(&pools, booking.id).await;
            return self.declined_by_network(booking, now).await;
        }
        if claims.iter().any(|c| c.deferred) && booking.retry_at.is_none() {
            // The operator decides (admin API, or its policy service at once); the capacity
            // is held meanwhile.
            booking.status = BookingStatus::Requested;
            if self.decider.is_some() {
                booking.retry_at = Some(now);
            }
        }
        let stored = self.store_new(&booking).await;
        if let Err(e) = &stored
            && e.kind == RejectionKind::Conflict
        {
            // Not stored (a conflict): the capacity it reserved goes back. After a store
            // error it stays: the booking may have been stored all the same (a timeout after
            // the write), and a leak ends with the window while an oversell would not.
            self.give_back(&pools, booking.id).await;
            self.release_network(&booking).await;
        }
        stored?;
        info!(booking.id = %booking.id, client.id = %booking.owner.client_id, status = booking.status.as_str(), "booking created");
        Ok(booking)
    }

    /// A PRIVATE_KEY_JWT credential names the client whose onboarding record says where its
    /// tokens come from; a client without one cannot use it.
    fn bind_credential(&self, caller: &Caller, cred: &mut Option<SinkCredential>) -> Result<(), Rejection> {
        if let Some(SinkCredential::PrivateKeyJwt { client_id }) = cred {
            if !self.clients.private_key_jwt(&caller.client_id) {
                return Err(Rejection::new(
                    RejectionKind::InvalidCredential,
                    "PRIVATE_KEY_JWT needs the authorization server of this client in its onboarding record; none is registered",
                ));
            }
            client_id.clone_from(&caller.client_id);
        }
        Ok(())
    }

    /// The client's own quota of live bookings, else the default (0 in the default: none).
    async fn check_quota(&self, record: Option<&ClientRecord>, client_id: &str) -> Result<(), Rejection> {
        let quota = match record.and_then(|r| r.max_live_bookings) {
            Some(q) => Some(usize::try_from(q).unwrap_or(usize::MAX)),
            None => Some(self.policy.max_live_per_client).filter(|q| *q > 0),
        };
        if let Some(quota) = quota
            && self.store.count_live(client_id).await.map_err(unavailable)? >= quota
        {
            return Err(Rejection::new(
                RejectionKind::QuotaExceeded,
                format!("The client already holds {quota} live bookings, the most allowed"),
            ));
        }
        Ok(())
    }

    /// The checks every new booking passes, in CAMARA's order after the device: the profile
    /// (exists, bookable, allowed to this client), the duration within the profile's limits,
    /// the start time window, the area's coverage.
    fn check_request(
        &self,
        record: Option<&ClientRecord>,
        req: &NewBooking,
        now: OffsetDateTime,
    ) -> Result<(), Rejection> {
        let profile = self
            .catalog
            .get(&req.qos_profile)
            .ok_or_else(|| Rejection::invalid(format!("qosProfile '{}' does not exist", req.qos_profile)))?;
        if profile.status != ProfileStatus::Active {
            return Err(Rejection::new(
                RejectionKind::ProfileNotApplicable,
                format!(
                    "qosProfile '{}' cannot be booked: it is {:?}",
                    profile.name, profile.status
                ),
            ));
        }
        if record.is_some_and(|r| !r.may_book(&profile.name)) {
            return Err(Rejection::new(
                RejectionKind::ProfileNotApplicable,
                format!(
                    "qosProfile '{}' is not among the profiles this client may book",
                    profile.name
                ),
            ));
        }
        if req.duration < profile.min_duration || req.duration > profile.max_duration {
            return Err(Rejection::new(
                RejectionKind::DurationOutOfRange,
                format!(
                    "duration {} s is outside the limits of qosProfile '{}' ({}..={} s)",
                    req.duration, profile.name, profile.min_duration, profile.max_duration
                ),
            ));
        }
        if req.start_time <= now + self.policy.min_lead {
            return Err(Rejection::out_of_range(format!(
                "startTime must be in the future (at least {} s ahead)",
                self.policy.min_lead.whole_seconds()
            )));
        }
        if req.start_time > now + self.policy.max_horizon {
            return Err(Rejection::out_of_range(format!(
                "startTime is too far ahead (at most {} days)",
                self.policy.max_horizon.whole_days()
            )));
        }
        if !self.coverage.covers(&req.service_area) {
            return Err(Rejection::new(
                RejectionKind::AreaNotCovered,
                "The requested service area is not covered",
            ));
        }

        Ok(())
    }

    /// Stores a new booking with its timer and its first event (the synchronous outcome is
    /// also sent as an event: CAMARA asks for it); 409 when it conflicts.
    async fn store_new(&self, booking: &Booking) -> Result<(), Rejection> {
        let event = StatusEvent::for_booking(booking, self.clock.now());
        let due = self.due_of(booking);
        match self
            .store
            .create(booking, due, event.as_ref())
            .await
            .map_err(unavailable)?
        {
            CreateOutcome::Created => {
                if event.is_some() {
                    self.notifier.wake();
                }
                if let (Some(wake), Some(due)) = (&self.timer_wake, due) {
                    wake.due(due);
                }
                Ok(())
            }
            CreateOutcome::Conflict(other) => Err(Rejection::new(
                RejectionKind::Conflict,
                format!("The device already has booking {other} in an overlapping time window"),
            )),
        }
    }

    /// Answers a create the operator cannot honour: the booking is stored TERMINATED with
    /// BOOKING_DECLINED (readable until purged, its event sent) and holds no capacity.
    async fn decline(
        &self,
        booking: Booking,
        now: OffsetDateTime,
        pool: &str,
        why: &str,
    ) -> Result<Booking, Rejection> {
        let declined = booking
            .end(StatusInfo::BookingDeclined, now)
            .map_err(|e| Rejection::new(RejectionKind::Unavailable, e.to_string()))?;
        self.store_new(&declined).await?;
        info!(booking.id = %declined.id, client.id = %declined.owner.client_id, pool, why, "booking declined: no capacity");
        Ok(declined)
    }

    /// Reserves `b`'s places in every pool it draws on (all or none); `Err((pool, why))` when
    /// one cannot hold them (`blackout` or `full`).
    async fn hold_capacity(
        &self,
        b: &Booking,
        now: OffsetDateTime,
    ) -> Result<Result<Vec<PoolClaim>, (String, &'static str)>, Rejection> {
        let claims = match self.plan().claims_for(b) {
            Ok(claims) => claims,
            Err(Refusal::Blackout(pool)) => return Ok(Err((pool, "blackout"))),
            Err(Refusal::Full(pool)) => return Ok(Err((pool, "full"))),
        };
        let full = self
            .store
            .reserve(&claims, b.id, b.start_time, b.end_time(), now)
            .await
            .map_err(unavailable)?;
        Ok(match full {
            Some(pool) => Err((pool, "full")),
            None => Ok(claims),
        })
    }

    /// Gives a booking's capacity back (logged on failure: the reservation then holds until
    /// its window ends).
    async fn give_back(&self, pools: &[String], id: BookingId) {
        if pools.is_empty() {
            return;
        }
        if let Err(e) = self.store.release(pools, id).await {
            warn!(booking.id = %id, error = %Chain(&e), "could not give capacity back; it returns when the window ends");
        }
    }

    /// A booking whoever owns it (the operator's view).
    async fn load_any(&self, id: BookingId) -> Result<Booking, Rejection> {
        let b = self.store.get(id).await.map_err(unavailable)?;
        b.ok_or_else(|| Rejection::new(RejectionKind::NotFound, format!("Booking {id} does not exist")))
    }

    async fn load_for(&self, caller: &Caller, id: BookingId) -> Result<Booking, Rejection> {
        let b = self.store.get(id).await.map_err(unavailable)?;
        let b = b.ok_or_else(|| Rejection::new(RejectionKind::NotFound, format!("Booking {id} does not exist")))?;
        if !caller.may_access(&b) {
            return Err(Rejection::new(
                RejectionKind::PermissionDenied,
                "The booking belongs to another client or subject",
            ));
        }
        Ok(b)
    }

    /// A booking of the QoS Booking API (not a reservation of QoS Booking and Assignment,
    /// nor one of its devices).
    pub async fn get(&self, caller: &Caller, id: BookingId) -> Result<Booking, Rejection> {
        let b = self.load_for(caller, id).await?;
        if b.group.is_some() {
            return Err(Rejection::new(
                RejectionKind::NotFound,
                format!("Booking {id} does not exist"),
            ));
        }
        Ok(b)
    }

    /// Deletes a booking. Sync (the default): the network's subscription (if any) is removed
    /// first, then TERMINATED is stored. Async: a REQUESTED, SCHEDULED or ACTIVATED booking is
    /// marked DELETE_REQUESTED and its timer made due now (stored, so a restart finishes it);
    /// the timer then ends it (after removing the subscription of an active one).
    pub async fn delete(&self, caller: &Caller, id: BookingId) -> Result<Deleted, Rejection> {
        self.get(caller, id).await?;
        if self.policy.async_delete {
            let busy = || Rejection::new(RejectionKind::Unavailable, "The booking is changing; try again");
            let accepted = self
                .until_written(busy, || async move {
                    let b = self.load_for(caller, id).await?;
                    if b.status == BookingStatus::Terminated {
                        return Ok(Attempt::Done(None));
                    }
                    if b.status_info == Some(StatusInfo::DeleteRequested) {
                        return Ok(Attempt::Done(Some(b))); // already on its way
                    }
                    // Stored first (the removal survives a restart), then due at once.
                    let mut marked = b.touched();
                    marked.status_info = Some(StatusInfo::DeleteRequested);
                    marked.retry_at = Some(self.clock.now());
                    if !self.commit(&marked, false).await.map_err(unavailable)? {
                        return Ok(Attempt::Lost);
                    }
                    if let (Some(wake), Some(due)) = (&self.timer_wake, marked.retry_at) {
                        wake.due(due);
                    }
                    info!(booking.id = %id, status = ?b.status, "delete accepted; it runs in the background");
                    Ok(Attempt::Done(Some(marked)))
                })
                .await?;
            if let Some(b) = accepted {
                return Ok(Deleted::Accepted(Box::new(b)));
            }
        }
        self.end_on_request(Some(caller), id, StatusInfo::DeleteRequested)
            .await?;
        Ok(Deleted::Done)
    }

    /// Ends a booking now at a client's (`caller`) or the operator's (`None`) request: its NEF
    /// subscription is removed first when active, then TERMINATED with `reason` is stored with
    /// its event. The ended booking, or `None` when it had already ended.
    async fn end_on_request(
        &self,
        caller: Option<&Caller>,
        id: BookingId,
        reason: StatusInfo,
    ) -> Result<Option<Booking>, Rejection> {
        let busy = || Rejection::new(RejectionKind::Unavailable, "The booking is changing; try again");
        self.until_written(busy, || async move {
            let b = match caller {
                Some(c) => self.load_for(c, id).await?,
                None => self.load_any(id).await?,
            };
            let Ok(ended) = b.end(reason, self.clock.now()) else {
                return Ok(Attempt::Done(None)); // already TERMINATED
            };
            if let Some(sub) = &b.nef_subscription {
                match self.network(NetworkCall::Deactivate, id, self.southbound.deactivate(sub)).await {
                    Ok(()) => {}
                    Err(e) if e.is_unavailable() => {
                        warn!(booking.id = %id, error = %Chain(&e), "NEF delete failed; the request may be retried");
                        return Err(Rejection::new(
                            RejectionKind::Unavailable,
                            format!("The network could not release the booking now, try again: {e}"),
                        ));
                    }
                    Err(e) => {
                        warn!(booking.id = %id, error = %Chain(&e), "NEF refused the delete; treating the subscription as gone");
                    }
                }
            }
            if !self.commit(&ended, true).await.map_err(unavailable)? {
                return Ok(Attempt::Lost);
            }
            info!(booking.id = %id, status_info = reason.as_str(), "booking ended on request");
            self.abandon_attempts(&b).await;
            Ok(Attempt::Done(Some(ended)))
        })
        .await
    }

    /// Runs `attempt` until its write is not lost to a concurrent change, at most
    /// [`WRITE_TRIES`] times; then `busy`.
    async fn until_written<T, E, F>(&self, busy: impl FnOnce() -> E, mut attempt: impl FnMut() -> F) -> Result<T, E>
    where
        F: Future<Output = Result<Attempt<T>, E>>,
    {
        for _ in 0..WRITE_TRIES {
            if let Attempt::Done(t) = attempt().await? {
                return Ok(t);
            }
        }
        Err(busy())
    }

    /// Bookings of the caller for a device (from the body or the token).
    pub async fn retrieve(&self, caller: &Caller, device: Option<Device>) -> Result<Vec<Booking>, Rejection> {
        let (mut device, _) = resolve_device(caller, device)?;
        self.look_up(&mut device).await?;
        let all = self.store.by_device(&device.keys()).await.map_err(unavailable)?;
        let all: Vec<Booking> = all.into_iter().filter(|b| b.group.is_none()).collect();
        let had_any = !all.is_empty();
        let mut own: Vec<Booking> = all.into_iter().filter(|b| caller.may_access(b)).collect();
        if had_any && own.is_empty() {
            return Err(Rejection::new(
                RejectionKind::PermissionDenied,
                "The bookings of this device belong to another client or subject",
            ));
        }
        own.sort_by_key(|b| (b.start_time, b.id));
        own.truncate(self.policy.max_retrieve);
        Ok(own)
    }
}

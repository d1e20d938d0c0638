using System.Globalization;
using RedisFailover.Protos;

namespace RedisFailover.Coordination;

/// <summary>
/// One resource's failover state machine. Pure: it is told what agents say and what time it is,
/// and answers with effects (commands, journal lines, a term to persist, an address to publish)
/// that its host carries out in order. One failover at a time; a process-only death is never its
/// business (the agent restarts the process); nothing is promoted without a confirmed host loss
/// or an operator's word; the new term is persisted before any command of it is sent.
/// </summary>
internal sealed class ResourceMachine
{
    /// <summary>
    /// True when the vantage got nothing at all from the host at its last look: HostUnreachable
    /// (port and SSH silent), or a silent last port probe whatever verdict the vantage still holds
    /// (an agent keeps its previous verdict until its SSH probe speaks). Silence starts the window
    /// and counts in its rounds; only HostUnreachable from a quorum in the last round confirms.
    /// </summary>
    private static bool Silent(Verdict verdict, PortOutcome port) => verdict.SaysHostGone() || port.IsSilence();

    /// <summary>
    /// True when the host itself answered the vantage: its last port probe got an answer only a
    /// live host gives, or (without a port probe) a verdict that needs one.
    /// </summary>
    private static bool Reachable(Verdict verdict, PortOutcome port) =>
        port != PortOutcome.Unspecified ? port.ProvesHostAlive() && !verdict.SaysHostGone() : verdict.ProvesHostAlive();

    /// <summary>True when Redis itself answered the vantage: what ends a failover its own agent asked for.</summary>
    private static bool ProcessUp(Verdict verdict, PortOutcome port) =>
        port != PortOutcome.Unspecified ? port.ProvesProcessUp() : verdict is Verdict.Healthy or Verdict.Busy or Verdict.Misconfigured;

    private readonly Dictionary<string, NodeView> _nodes;
    private readonly FailoverPolicy _policy;
    private readonly List<Effect> _effects = [];

    // Set exactly while State is Confirming.
    private Confirmation? _confirmation;

    // A blocked suspicion is journalled once until the standby state changes.
    private bool _blockedNoted;

    // The incident opened last, and the last failover whose loss waits to be measured when its old primary returns.
    private string _incident = "";
    private LossWatch? _lossWatch;
    private DateTimeOffset _quietUntil = DateTimeOffset.MinValue;
    private int _incidents;

    public ResourceMachine(string resource, IReadOnlyList<NodeSpec> nodes, FailoverPolicy policy, long term, string? primary, ResourceSettings settings, bool paused, IReadOnlyCollection<string>? inSync = null, Store.ValueOrigins? origins = null)
    {
        Resource = resource;
        Origins = origins ?? new Store.ValueOrigins("configuration", settings.TimeoutSeconds is null ? null : "configuration", settings.MaxMemoryPolicy is null ? null : "configuration");
        _nodes = nodes.ToDictionary(n => n.Name, n => new NodeView(n), StringComparer.Ordinal);
        _policy = policy;
        Term = term;
        Primary = primary;
        Settings = settings;
        Paused = paused;
        State = ResourceState.Degraded;
        Reason = primary is null ? "no primary known yet" : "waiting for the agents' first reports";
        foreach (var node in inSync ?? [])
        {
            if (_nodes.TryGetValue(node, out var view) && node != primary)
            {
                view.InSyncBefore = true;
            }
        }
    }

    // A replica was seen in sync for the first time since the last promotion: the record is rewritten at the next tick.
    private bool _inSyncChanged;

    /// <summary>The replicas seen in sync with the primary since its promotion (kept in the record).</summary>
    public IEnumerable<string> InSyncNodes => _nodes.Values.Where(v => v.LastInSync is not null || v.InSyncBefore).Select(v => v.Spec.Name).Order(StringComparer.Ordinal);

    public string Resource { get; }

    /// <summary>The window, rounds and quorum this resource is judged by.</summary>
    public FailoverPolicy Policy => _policy;

    public ResourceState State { get; private set; }

    /// <summary>Why the resource is in its state, in words (empty when Healthy).</summary>
    public string Reason { get; private set; }

    public long Term { get; private set; }

    public string? Primary { get; private set; }

    public ResourceSettings Settings { get; private set; }

    public bool Paused { get; private set; }

    public IReadOnlyCollection<NodeView> Nodes => _nodes.Values;

    public string? PrimaryAddress => Primary is null ? null : _nodes[Primary].Spec.Address;

    public bool Knows(string node) => _nodes.ContainsKey(node);

    /// <summary>Where the nodes and each setting in force came from (configuration, or an operator's command with who and when).</summary>
    public Store.ValueOrigins Origins { get; private set; }

    /// <summary>A resource has at most this many nodes (each is a vantage that is asked in every round).</summary>
    public const int MaxNodes = 16;

    /// <summary>
    /// An operator adds a node at run time: it is watched and reconciled like the others from its
    /// agent's first report (made a replica of the primary), and counts as a standby once in sync.
    /// Refused while a failover or a switchover is under way, and for a name or address already used.
    /// </summary>
    public IReadOnlyList<Effect> AddNode(NodeSpec node, string origin, DateTimeOffset now, out string? refusal)
    {
        refusal = _nodes.ContainsKey(node.Name) ? $"{node.Name} is already a node of {Resource}"
            : _nodes.Values.FirstOrDefault(v => string.Equals(v.Spec.Address, node.Address, StringComparison.OrdinalIgnoreCase)) is { } same ? $"{same.Spec.Name} already has the address {node.Address}"
            : _nodes.Count >= MaxNodes ? $"{Resource} has {_nodes.Count} nodes, the most a resource may have"
            : MembershipBusy();
        if (refusal is not null)
        {
            return Take();
        }

        _nodes[node.Name] = new NodeView(node);
        Origins = Origins with { Nodes = origin };
        Journal("nodes", $"{node.Name} ({node.Address}, zone {(node.Zone.Length > 0 ? node.Zone : "none")}) added by {origin}: made a replica of {Primary ?? "the primary"} once its agent connects, and a standby once in sync. Nodes now: {string.Join(", ", _nodes.Keys.Order(StringComparer.Ordinal))}");
        Emit(new PersistTerm(Term, Primary));
        Emit(new MembershipChanged());
        UpdateStandbyState(now);
        return Take();
    }

    /// <summary>
    /// An operator removes a node at run time: never the primary (switch over first), never below two
    /// nodes, and not the last standby in sync unless <paramref name="force"/> (a failover would be
    /// impossible until another is in sync). Its agent's stream is ended by the caller.
    /// </summary>
    public IReadOnlyList<Effect> RemoveNode(string node, bool force, string origin, DateTimeOffset now, out string? refusal)
    {
        var lastStandby = Primary is not null && _nodes.ContainsKey(node) && node != Primary && IsInSync(node) && !_nodes.Values.Any(v => v.Spec.Name != node && v.Spec.Name != Primary && IsInSync(v.Spec.Name));
        refusal = !_nodes.ContainsKey(node) ? $"there is no node '{node}'"
            : node == Primary ? $"{node} is the primary: switch over to another node first (redis-failover switchover --to NODE)"
            : _nodes.Count <= 2 ? $"{Resource} would be left with one node: a resource needs a primary and a standby"
            : _policy.QuorumOf(_nodes.Count - 2) > _nodes.Count - 2 ? $"Failover:Quorum {_policy.QuorumOf(_nodes.Count - 2)} needs more vantages than the {_nodes.Count - 2} that would be left: no loss could ever be confirmed"
            : lastStandby && !force ? $"{node} is the only standby in sync with {Primary}: without it no failover is possible until another is in sync (wait for one, or remove it with --force)"
            : MembershipBusy();
        if (refusal is not null)
        {
            return Take();
        }

        var spec = _nodes[node].Spec;
        _nodes.Remove(node);
        Origins = Origins with { Nodes = origin };
        Journal("nodes", $"{node} ({spec.Address}) removed by {origin}{(lastStandby ? ", though it was the only standby in sync (forced)" : "")}: no longer watched, counted or promoted; its Redis is left as it is. Nodes now: {string.Join(", ", _nodes.Keys.Order(StringComparer.Ordinal))}");
        Emit(new PersistTerm(Term, Primary));
        Emit(new MembershipChanged());
        UpdateStandbyState(now);
        return Take();
    }

    private string? MembershipBusy() =>
        State == ResourceState.Confirming ? "a failover is being confirmed: change the nodes once it has ended"
        : SwitchingTo is not null ? $"a switchover to {SwitchingTo} is in progress"
        : null;

    public IReadOnlyList<Effect> Connected(string node, long termSeen, DateTimeOffset now)
    {
        if (!_nodes.TryGetValue(node, out var view))
        {
            return Take();
        }

        view.Connected = true;
        view.TermSeen = Math.Max(view.TermSeen, termSeen);
        view.Lease = null;
        // What was sent before may have gone into a dead stream: the first report is reconciled at once.
        view.LastCommandAt = null;
        AdoptHigherTerm(node, termSeen);
        return Take();
    }

    /// <summary>
    /// An agent has seen a higher term than the store holds: the store was lost, or restored from an
    /// older copy. Commands under the lower term would all be refused (restart leases too), so the
    /// machine takes the agent's term, durably, and says so: it never issues a term lower than one an
    /// agent reports, and its next decision takes a term above every term any agent has seen.
    /// </summary>
    private void AdoptHigherTerm(string node, long seen)
    {
        if (seen <= Term)
        {
            return;
        }

        var had = Term;
        Term = seen;
        Emit(new PersistTerm(Term, Primary));
        Journal("recovered", string.Create(CultureInfo.InvariantCulture,
            $"term {seen} taken from {node}, which has seen it, where the store had term {had}: the store was lost or restored from an older copy. Its primary is {Primary ?? "not known yet (the node that reports role master becomes it)"}."));
    }

    public IReadOnlyList<Effect> Disconnected(string node, DateTimeOffset now)
    {
        // A node removed while its agent was connected has no view left.
        if (_nodes.TryGetValue(node, out var view))
        {
            view.Connected = false;
            view.Lease = null;
            view.LastCommandAt = null;
        }

        return Take();
    }

    public IReadOnlyList<Effect> Reported(string node, NodeReport report, DateTimeOffset now)
    {
        if (!_nodes.TryGetValue(node, out var view))
        {
            // Removed between the report's arrival and this step: its stream is being ended.
            return Take();
        }

        view.Report = report;
        view.ReportAt = now;
        view.TermSeen = Math.Max(view.TermSeen, report.TermSeen);
        AdoptHigherTerm(node, report.TermSeen);

        // The first report of a resource nobody has named a primary for: the node that is master.
        if (Primary is null && report.IsPrimary)
        {
            Primary = node;
            Term = Math.Max(Term, 1);
            Emit(new PersistTerm(Term, node));
            Journal("primary", $"{node} ({view.Spec.Address}) is the primary: it reports role master and no primary was known");
            Emit(new PublishPrimary(node, view.Spec.Address, Term));
        }

        if (IsInSync(node))
        {
            var first = view.LastInSync is null && !view.InSyncBefore;
            view.LastInSync = report;
            view.LastInSyncAt = now;
            view.InSyncBefore = false;
            // Kept in the record at the next tick (a coordinator that takes over later knows this replica
            // could be promoted): written by the clock, not on the report path, where a fleet coming up
            // would wait for thousands of writes (measured: the 5,000-agent fleet's p99 went from 40 ms to 1.3 s),
            // and batched with every other resource's (PersistInSync).
            _inSyncChanged |= first;
        }
        else if (view.InSyncBefore && view.LastInSync is null && Primary is not null && node != Primary
                 && report is { IsPrimary: false, SyncInProgress: false } && report.PrimaryAddress == PrimaryAddress)
        {
            // In sync under the previous coordinator (the record says so), and still following the same
            // primary, whose link has since dropped: what it holds is what it had then.
            view.LastInSync = report;
            view.LastInSyncAt = now;
            view.InSyncBefore = false;
        }

        MeasureLoss(node, report);
        if (report.SelfFencedAt is { } fencedAt && fencedAt != view.SelfFenceJournalled)
        {
            view.SelfFenceJournalled = fencedAt;
            Journal("self-fence", string.Create(CultureInfo.InvariantCulture,
                $"{node} was fenced at {fencedAt:HH:mm:ss.fff} by its own agent's decision (cut off from the coordinator and every peer): it acknowledged no write from then on"));
        }

        if (State is ResourceState.Degraded)
        {
            // This report may be the one that shows a standby (the first after a coordinator took over):
            // judged before a suspicion in the same report could be blocked for want of one.
            UpdateStandbyState(now);
        }

        if (State == ResourceState.Confirming)
        {
            ConfirmingReport(node, report, now);
        }
        else if (node == Primary && report.Request is { } ask && now >= _quietUntil)
        {
            Requested(node, ask, now);
        }
        else if (Primary is not null && node != Primary && now >= _quietUntil && SaysSilent(report, Primary) is { } silent)
        {
            Suspect(node, silent, now);
        }

        if (State is not ResourceState.Confirming)
        {
            Reconcile(node, now);
            UpdateStandbyState(now);
        }

        RenewLeaseOnReport(view, report, now);
        return Take();
    }

    /// <summary>A vantage's answer to ProbeNow: its latest observation of the target.</summary>
    public IReadOnlyList<Effect> ProbeAnswered(string vantage, TargetSeen seen, DateTimeOffset now) =>
        ProbeAnswered(vantage, seen.Target, seen.Verdict, now, seen.Port, seen.At, seen.HostSilentSince);

    /// <param name="at">When the vantage made the observation it answers with (it answers with its latest); null: now.</param>
    /// <param name="hostSilentSince">Since when the vantage's SSH probes of the target have gone unanswered; null: the last one answered.</param>
    public IReadOnlyList<Effect> ProbeAnswered(string vantage, string target, Verdict verdict, DateTimeOffset now, PortOutcome port = PortOutcome.Unspecified, DateTimeOffset? at = null, DateTimeOffset? hostSilentSince = null)
    {
        if (_confirmation is { } confirmation && target == Primary && vantage != Primary && _nodes.ContainsKey(vantage))
        {
            var seenAt = at ?? now;
            var stale = seenAt < confirmation.WindowStart;
            Journal("probe", $"round {confirmation.Round}: {vantage} ({_nodes[vantage].Spec.Zone}) sees {target} {verdict}{(port != PortOutcome.Unspecified ? $" (port: {port})" : "")}"
                + (stale ? string.Create(CultureInfo.InvariantCulture, $", observed {(confirmation.WindowStart - seenAt).TotalMilliseconds:0} ms before the window opened: not evidence") : ""));
            if (confirmation.Request is not null)
            {
                if (!stale)
                {
                    RequestedAnswer(confirmation, vantage, verdict, port, now);
                }
            }
            else if (!stale || Silent(verdict, port))
            {
                // A stale answer that does not find the primary silent is not recorded: it neither ends the
                // confirmation nor counts against it, and the round waits for the vantage's next (AwaitingEvidence).
                confirmation.Answers[vantage] = new ProbeAnswer(verdict, port, hostSilentSince, now);
                // Only what was seen since the window opened can end it: an answer from before the host went silent proves nothing.
                if (!stale && Reachable(verdict, port))
                {
                    Refute($"{vantage} reached {target} ({verdict})", now);
                }
            }
        }

        return Take();
    }

    public IReadOnlyList<Effect> Tick(DateTimeOffset now)
    {
        if (_inSyncChanged && Primary is not null)
        {
            _inSyncChanged = false;
            Emit(new PersistInSync());
        }

        if (_confirmation is { Request: not null } requested && now - requested.RoundStart >= _policy.RoundInterval)
        {
            var elapsed = now - requested.WindowStart;
            if (elapsed >= _policy.Window)
            {
                Journal("round", string.Create(CultureInfo.InvariantCulture,
                    $"after {elapsed.TotalSeconds:0.#} s only {DownCount(requested)} of quorum {_policy.QuorumOf(Vantages().Count)} vantages saw {Primary}'s Redis port down since its agent asked"));
                EndUnconfirmed(now);
            }
            else
            {
                StartRound(requested, now);
            }
        }
        else if (_confirmation is { } open && now - open.WindowStart >= _policy.Window && open.Answers.Count > 0
                 && open.Answers.Values.Count(a => Silent(a.Verdict, a.Port)) >= Quorum() && HostGoneCount(open) >= Quorum())
        {
            // The window is the only wait: once it has passed, the round in progress decides as soon as
            // its answers do, rather than at the round's end.
            Confirmed(open, now);
        }
        else if (_confirmation is { } confirmation && now - confirmation.RoundStart >= _policy.RoundInterval && !AwaitingEvidence(confirmation, now))
        {
            if (!CloseRound(confirmation, now))
            {
                return Take();
            }

            var quorum = Quorum();
            var hostUnreachable = HostGoneCount(confirmation);
            var elapsed = now - confirmation.WindowStart;
            if (elapsed >= _policy.Window && hostUnreachable >= quorum)
            {
                Confirmed(confirmation, now);
            }
            else if (elapsed >= _policy.Window + _policy.HostEvidenceWait)
            {
                // The port stayed silent but the host kept answering over SSH (or was never judged lost): not a lost host.
                Journal("round", $"after {elapsed.TotalSeconds:0.#} s only {hostUnreachable} of quorum {quorum} see {Primary}'s host unreachable over SSH too");
                EndUnconfirmed(now);
            }
            else
            {
                StartRound(confirmation, now);
            }
        }

        UpdateLeases(now);
        return Take();
    }

    private int Quorum() => _policy.QuorumOf(_nodes.Values.Count(v => v.Spec.Name != Primary));

    /// <summary>
    /// True while a round short of its quorum waits for connected vantages that have not answered with
    /// anything seen since the window opened, and whose answers could still make the quorum, for at most
    /// <see cref="FailoverPolicy.EvidenceWait"/> from the round's start. At a short window a vantage's
    /// probe under way when the host went silent (connected just before, then no reply) is older than
    /// the window, and its first silent probe is reported up to a probe's interval and timeout later:
    /// that is no evidence against the loss, only evidence not yet in.
    /// </summary>
    private bool AwaitingEvidence(Confirmation confirmation, DateTimeOffset now)
    {
        if (now - confirmation.RoundStart >= FailoverPolicy.EvidenceWait)
        {
            return false;
        }

        int silent = 0, pending = 0;
        foreach (var vantage in Vantages())
        {
            if (!confirmation.Answers.TryGetValue(vantage, out var answer))
            {
                pending++;
            }
            else if (Silent(answer.Verdict, answer.Port))
            {
                silent++;
            }
        }

        var quorum = Quorum();
        if (pending == 0 || silent >= quorum || silent + pending < quorum)
        {
            return false;
        }

        if (!confirmation.WaitJournalled)
        {
            confirmation.WaitJournalled = true;
            Journal("round", string.Create(CultureInfo.InvariantCulture,
                $"round {confirmation.Round}: {silent} of quorum {quorum} find {Primary} silent so far; waiting up to {FailoverPolicy.EvidenceWait.TotalSeconds:0.#} s for {pending} vantage(s) not yet heard from since the window opened"));
        }

        return true;
    }

    /// <summary>
    /// True when the answer says the host itself is gone: the vantage's settled HostUnreachable, or a
    /// silent port with SSH probes unanswered for Failover's HostSilence (half the window, at most 5 s)
    /// when it answered. SSH silence is gathered during the window, not after it.
    /// </summary>
    private bool HostGone(ProbeAnswer answer) => answer.Verdict.SaysHostGone()
        || (Silent(answer.Verdict, answer.Port) && answer.HostSilentSince is { } since && answer.ReceivedAt - since >= _policy.HostSilence);

    private int HostGoneCount(Confirmation confirmation) => confirmation.Answers.Values.Count(HostGone);

    private void Confirmed(Confirmation confirmation, DateTimeOffset now)
    {
        var elapsed = now - confirmation.WindowStart;
        Journal("confirmed", string.Create(CultureInfo.InvariantCulture,
            $"{Primary} silent to a quorum in every one of {confirmation.Round} rounds over {elapsed.TotalSeconds:0.##} s, and its host gone from {HostGoneCount(confirmation)} ({string.Join(", ", confirmation.Answers.Where(a => HostGone(a.Value)).Select(a => $"{a.Key}: {Describe(a.Value)}"))})"));
        FailOver(now);
    }

    private static string Describe(ProbeAnswer answer) => answer.Verdict.SaysHostGone()
        ? "HostUnreachable"
        : string.Create(CultureInfo.InvariantCulture, $"port {answer.Port}, SSH unanswered for {(answer.ReceivedAt - answer.HostSilentSince!.Value).TotalSeconds:0.##} s");

    /// <summary>
    /// While a planned switchover waits for its target to catch up with the paused primary: the
    /// target's name. The primary reports itself fenced meanwhile, and must not be unfenced.
    /// </summary>
    public string? SwitchingTo { get; private set; }

    /// <summary>
    /// The start of a planned switchover: the target (<paramref name="to"/>, or the connected in-sync
    /// standby with the highest offset) and the primary whose writes are to be paused; or why not.
    /// </summary>
    public IReadOnlyList<Effect> BeginSwitchover(string? to, out (string Target, string Primary)? plan, out string? refusal)
    {
        refusal = null;
        plan = null;
        var target = to ?? _nodes.Values
            .Where(v => v.Spec.Name != Primary && v.Connected && IsInSync(v.Spec.Name))
            .OrderByDescending(v => v.Report?.ReplicationOffset ?? 0)
            .Select(v => v.Spec.Name)
            .FirstOrDefault();
        if (Primary is not { } primary)
        {
            refusal = "no primary is known";
        }
        else if (SwitchingTo is not null)
        {
            refusal = $"a switchover to {SwitchingTo} is in progress";
        }
        else if (State is not ResourceState.Healthy)
        {
            refusal = $"the resource is {State} ({Reason}); a switchover needs it Healthy";
        }
        else if (!_nodes[primary].Connected)
        {
            refusal = $"{primary}'s agent is not connected: its writes cannot be paused";
        }
        else if (target is null)
        {
            refusal = $"no connected standby is in sync with {primary}";
        }
        else if (!_nodes.ContainsKey(target))
        {
            refusal = $"there is no node '{target}'";
        }
        else if (target == primary)
        {
            refusal = $"{target} is already the primary";
        }
        else if (!IsInSync(target) || !_nodes[target].Connected)
        {
            refusal = $"{target} is not a connected replica in sync with {primary}";
        }

        if (refusal is not null)
        {
            return Take();
        }

        SwitchingTo = target;
        plan = (target!, Primary!);
        Journal("switchover", $"planned switchover from {Primary} to {target}: pausing {Primary}'s writes until {target} has caught up");
        return Take();
    }

    /// <summary>
    /// The end of a planned switchover's wait: <paramref name="caughtUp"/>, the target is promoted
    /// (the old primary, still paused, becomes its replica); else the primary takes writes again.
    /// </summary>
    public IReadOnlyList<Effect> EndSwitchover(bool caughtUp, string why, DateTimeOffset now, out string? refusal)
    {
        refusal = null;
        var target = SwitchingTo;
        SwitchingTo = null;
        if (target is null || Primary is not { } primary)
        {
            refusal = "no switchover is in progress";
            return Take();
        }

        if (caughtUp)
        {
            Journal("switchover", $"{target} caught up with {primary}: {why}");
            var effects = PromoteRequested(target, now, out refusal, planned: true);
            if (refusal is null)
            {
                return [.. effects, new SwitchoverEnded(Done: true)];
            }

            Emit(new SendCommand(primary, CommandKind.Unfence, Term));
            Emit(new SwitchoverEnded(Done: false));
            return [.. effects, .. Take()];
        }

        Journal("switchover", $"switchover to {target} rolled back: {why}; {primary} takes writes again");
        Emit(new SendCommand(primary, CommandKind.Unfence, Term));
        Emit(new SwitchoverEnded(Done: false));
        refusal = $"{target} did not catch up with {primary}: {why}. Rolled back: {primary} is the primary and takes writes again";
        return Take();
    }

    /// <summary>An operator's switchover to <paramref name="node"/>: a replica in sync, promoted with the old primary fenced first.</summary>
    /// <param name="planned">The end of a planned switchover (its target caught up), not a forced promote.</param>
    public IReadOnlyList<Effect> PromoteRequested(string node, DateTimeOffset now, out string? refusal, bool planned = false)
    {
        refusal = null;
        if (node == Primary)
        {
            refusal = $"{node} is already the primary";
        }
        else if (State is ResourceState.Confirming)
        {
            refusal = $"a failover is in progress ({State})";
        }
        else if (!IsInSync(node) || !_nodes[node].Connected)
        {
            refusal = $"{node} is not a connected replica in sync with {Primary}";
        }

        if (refusal is not null)
        {
            return Take();
        }

        OpenIncident($"operator asked to promote {node}");
        var old = Primary;
        if (old is not null && _nodes[old].Connected)
        {
            Emit(new SendCommand(old, CommandKind.Fence, Term + 1, "switchover"));
        }

        Promote(node, old, now, "operator's switchover", planned ? "switchover" : "forced");
        CloseIncident("switched over");
        return Take();
    }

    /// <param name="origin">Who set them and when, shown by <c>info</c> beside each value set.</param>
    public IReadOnlyList<Effect> SettingsChanged(ResourceSettings settings, DateTimeOffset now, string? origin = null)
    {
        Settings = new ResourceSettings(settings.TimeoutSeconds ?? Settings.TimeoutSeconds, settings.MaxMemoryPolicy ?? Settings.MaxMemoryPolicy);
        if (origin is not null)
        {
            Origins = Origins with
            {
                Timeout = settings.TimeoutSeconds is null ? Origins.Timeout : origin,
                MaxMemoryPolicy = settings.MaxMemoryPolicy is null ? Origins.MaxMemoryPolicy : origin,
            };
        }

        Journal("settings", $"resource settings now {Settings}");
        foreach (var view in _nodes.Values.Where(v => v.Connected))
        {
            Emit(new SendCommand(view.Spec.Name, CommandKind.ApplySettings, Term, Settings: Settings));
        }

        return Take();
    }

    public void SetPaused(bool paused) => Paused = paused;

    // ---- confirmation ---------------------------------------------------------------------

    private void Suspect(string reporter, TargetSeen silent, DateTimeOffset now)
    {
        if (State is ResourceState.Rebuilding or ResourceState.Degraded)
        {
            if (!_blockedNoted)
            {
                _blockedNoted = true;
                OpenIncident($"{reporter} reports {Primary} {Describe(silent)}");
                Journal("blocked", $"no failover: {(State == ResourceState.Rebuilding ? "the new standby is not in sync yet" : "no standby is in sync")} ({Reason})");
                CloseIncident("blocked");
            }

            return;
        }

        OpenIncident($"{reporter} reports {Primary} {Describe(silent)}");
        State = ResourceState.Confirming;
        Reason = $"confirming that {Primary}'s host is lost";
        // The window counts from the start of the silent probe, not from its report: a probe's timeout
        // and a report's interval are not extra waits. (The observation is the vantage's latest probe,
        // so it is recent; a clock far off is held to a window back at most.)
        var windowStart = silent.At < now - _policy.Window ? now - _policy.Window : silent.At > now ? now : silent.At;
        var confirmation = _confirmation = new Confirmation(windowStart);
        Journal("suspect", string.Create(CultureInfo.InvariantCulture,
            $"{reporter} reports {Primary} {Describe(silent)}, silent since {windowStart:HH:mm:ss.fff}; confirming over {_policy.Window.TotalSeconds:0.#} s from then in rounds of {_policy.RoundInterval.TotalSeconds:0.#} s, quorum {_policy.QuorumOf(Vantages().Count)} of {Vantages().Count}"));
        StartRound(confirmation, now);
    }

    private void ConfirmingReport(string node, NodeReport report, DateTimeOffset now)
    {
        // Periodic observations count too: one vantage that reached the primary since the window began ends it.
        if (node == Primary || _confirmation is not { } confirmation)
        {
            return;
        }

        var seen = report.Observations.FirstOrDefault(o => o.Target == Primary);
        if (seen is null || seen.At < confirmation.WindowStart)
        {
            return;
        }

        if (confirmation.Request is not null)
        {
            RequestedAnswer(confirmation, node, seen.Verdict, seen.Port, now);
        }
        else if (Reachable(seen.Verdict, seen.Port))
        {
            Refute($"{node} reports {Primary} {seen.Verdict} at {seen.At:HH:mm:ss.fff}", now);
        }
        else if (Silent(seen.Verdict, seen.Port))
        {
            // Fresh silence counts in the round as a ProbeNow answer does: evidence is gathered all through the window.
            confirmation.Answers[node] = new ProbeAnswer(seen.Verdict, seen.Port, seen.HostSilentSince, now);
        }
    }

    // ---- a failover the primary's own agent asks for --------------------------------------

    /// <summary>
    /// The primary's agent says restarting it is hopeless or would lose data. Its host is alive (its
    /// agent speaks for it), so there is no host loss to confirm over a window: only that its Redis
    /// is down from the vantages, which their next observations show within a probe interval. No
    /// standby in sync: the failover is impossible, said once, and the agent's lease tells it to keep
    /// restarting (<see cref="UpdateLeases"/>).
    /// </summary>
    private void Requested(string node, FailoverAsk ask, DateTimeOffset now)
    {
        var cause = ask.Cause switch
        {
            FailoverCause.StartLimit => "restarts hit the start limit",
            FailoverCause.NoPersistence => "a restart would come back empty",
            FailoverCause.OlderData => "a restart would load data older than a replica's",
            FailoverCause.StartFailed => "a restart failed",
            _ => "a restart cannot bring it back",
        };
        // This very report may be the one that says the primary is down, which makes replicas whose link
        // dropped with it standbys again.
        UpdateStandbyState(now);
        if (State is ResourceState.Rebuilding or ResourceState.Degraded || Paused)
        {
            if (!_blockedNoted)
            {
                _blockedNoted = true;
                OpenIncident($"{node}'s agent asks for a failover: {cause}");
                Journal("blocked", Paused
                    ? $"no failover: automatic failover is paused; {node} stays down until an operator acts ({ask.Reason})"
                    : $"no failover: {(State == ResourceState.Rebuilding ? "the new standby is not in sync yet" : "no standby is in sync")} ({Reason}); {node}'s agent is told so and keeps restarting it ({ask.Reason})");
                CloseIncident("blocked");
            }

            return;
        }

        OpenIncident($"{node}'s agent asks for a failover: {cause}");
        State = ResourceState.Confirming;
        Reason = $"{node}'s agent asks for a failover ({cause}); confirming that its Redis is down";
        var confirmation = _confirmation = new Confirmation(now) { Request = ask };
        Journal("requested", $"{node}'s agent asks for a failover, {cause}: {ask.Reason}. Confirming only that its Redis port is down, from {_policy.QuorumOf(Vantages().Count)} of {Vantages().Count} vantages");
        StartRound(confirmation, now);
    }

    /// <summary>One vantage's fresh observation of the primary, during a requested failover.</summary>
    private void RequestedAnswer(Confirmation confirmation, string vantage, Verdict verdict, PortOutcome port, DateTimeOffset now)
    {
        if (ProcessUp(verdict, port))
        {
            Refute($"{vantage} sees {Primary}'s Redis answer ({verdict}{(port != PortOutcome.Unspecified ? ", port " + port : "")}): it is back, no failover", now);
            return;
        }

        confirmation.Answers[vantage] = new ProbeAnswer(verdict, port);
        var quorum = _policy.QuorumOf(_nodes.Values.Count(v => v.Spec.Name != Primary));
        var down = DownCount(confirmation);
        if (down < quorum)
        {
            return;
        }

        Journal("confirmed", string.Create(CultureInfo.InvariantCulture,
            $"{Primary}'s Redis port is down to {down} of quorum {quorum} ({string.Join(", ", confirmation.Answers.Select(a => $"{a.Key}: {a.Value.Verdict}, port {a.Value.Port}"))}) {(now - confirmation.WindowStart).TotalSeconds:0.##} s after its agent asked"));
        FailOver(now);
    }

    private static int DownCount(Confirmation confirmation) => confirmation.Answers.Values.Count(a => !ProcessUp(a.Verdict, a.Port));

    private void StartRound(Confirmation confirmation, DateTimeOffset now)
    {
        confirmation.Round++;
        confirmation.RoundStart = now;
        confirmation.WaitJournalled = false;
        confirmation.Answers.Clear();
        foreach (var vantage in Vantages())
        {
            Emit(new SendCommand(vantage, CommandKind.ProbeNow, Term, Primary));
        }
    }

    /// <summary>Judges the round that ends; false (and the incident closed) when it lacked its quorum.</summary>
    private bool CloseRound(Confirmation confirmation, DateTimeOffset now)
    {
        var vantages = Vantages();
        var quorum = _policy.QuorumOf(_nodes.Values.Count(v => v.Spec.Name != Primary));
        var answers = confirmation.Answers;
        var unreachable = answers.Values.Count(a => Silent(a.Verdict, a.Port));
        var summary = answers.Count == 0 ? "no answer" : string.Join(", ", answers.Select(a => $"{a.Key}: {a.Value.Verdict}"));
        if (unreachable >= quorum)
        {
            Journal("round", $"round {confirmation.Round}: {unreachable} of quorum {quorum} find {Primary} silent ({summary})");
            return true;
        }

        Journal("round", $"round {confirmation.Round}: only {unreachable} of quorum {quorum} find {Primary} silent ({summary}; {vantages.Count} vantage agents connected)");
        EndUnconfirmed(now);
        return false;
    }

    /// <summary>Ends a confirmation that did not get its evidence; a new suspicion is heard again after a round's time.</summary>
    private void EndUnconfirmed(DateTimeOffset now)
    {
        _quietUntil = now + _policy.RoundInterval;
        _confirmation = null;
        State = ResourceState.Healthy;
        Reason = "";
        CloseIncident("not confirmed");
        UpdateStandbyState(now);
    }

    /// <summary>Ends the confirmation; a new suspicion is heard again only after a round's time, so that vantages that disagree do not open an incident per report.</summary>
    private void Refute(string why, DateTimeOffset now)
    {
        _quietUntil = now + _policy.RoundInterval;
        Journal("refuted", why);
        _confirmation = null;
        State = ResourceState.Healthy;
        Reason = "";
        CloseIncident("refuted");
        UpdateStandbyState(now);
    }

    // ---- failing over ---------------------------------------------------------------------

    /// <summary>Promotes the most advanced healthy standby, or blocks; either way the confirmation is over when this returns.</summary>
    private void FailOver(DateTimeOffset now)
    {
        var requested = _confirmation?.Request is not null;
        _confirmation = null;
        var old = Primary!;
        var oldOffset = _nodes[old].Report?.ReplicationOffset ?? 0;
        var candidates = _nodes.Values
            .Where(v => v.Spec.Name != old && v.LastInSync is not null)
            .Select(v => (View: v, Offset: v.Report?.ReplicationOffset ?? v.LastInSync!.ReplicationOffset))
            .OrderByDescending(c => c.Offset)
            .ToList();
        Journal("candidates", candidates.Count == 0
            ? "no replica was in sync with the primary"
            : string.Join("; ", candidates.Select(c => string.Create(CultureInfo.InvariantCulture,
                $"{c.View.Spec.Name} offset {c.Offset}, {(c.View.Connected ? "connected" : "agent not connected")}, verdict {c.View.Report?.LocalVerdict.ToString() ?? "?"}"))));
        if (Paused)
        {
            Block("automatic failover is paused");
            return;
        }

        var chosen = candidates.FirstOrDefault(c => c.View.Connected && c.View.Report?.LocalVerdict == Verdict.Healthy);
        if (chosen.View is null)
        {
            Block("no healthy, connected replica that was in sync");
            return;
        }

        var reportedAt = _nodes[old].ReportAt;
        Journal("loss", string.Create(CultureInfo.InvariantCulture,
            $"estimated loss: at least {Math.Max(0, oldOffset - chosen.Offset)} bytes of replication stream. Basis: {old}'s last report ({(reportedAt is { } r ? $"{(now - r).TotalSeconds:0.###} s before the promotion, at {r:HH:mm:ss.fff}" : "none")}, as {Describe(_nodes[old].Report?.Role)}) said offset {oldOffset}; {chosen.View.Spec.Name} has {chosen.Offset}. Writes {old} acknowledged after that report are not counted: the loss is measured when {old} returns"));
        _lossWatch = new LossWatch(old, chosen.View.Spec.Name, chosen.Offset, _incident);
        Promote(chosen.View.Spec.Name, old, now, "confirmed loss of " + old, requested ? "restart_hopeless" : "host_lost");
        CloseIncident("failed over");
    }

    /// <param name="reason">One of <see cref="Decisions.Reasons"/>, for the metrics.</param>
    private void Promote(string node, string? old, DateTimeOffset now, string why, string reason)
    {
        Term++;
        Primary = node;
        // Durable first: a coordinator that dies after this line promotes nobody else for this term.
        Emit(new PersistTerm(Term, node));
        var address = _nodes[node].Spec.Address;
        Journal("promote", $"term {Term}: promoting {node} ({address}): {why}");
        Emit(new SendCommand(node, CommandKind.Promote, Term));
        Emit(new SendCommand(node, CommandKind.ApplySettings, Term, Settings: Settings));
        Emit(new PublishPrimary(node, address, Term));
        Emit(new Promoted(node, reason));
        foreach (var view in _nodes.Values.Where(v => v.Spec.Name != node && v.Connected))
        {
            if (view.Spec.Name == old)
            {
                Emit(new SendCommand(old, CommandKind.Fence, Term, $"term {Term}: {node} is the primary"));
            }

            Emit(new SendCommand(view.Spec.Name, CommandKind.ReplicateFrom, Term, address));
            view.LastCommandAt = now;
        }

        _nodes[node].LastCommandAt = now;
        foreach (var view in _nodes.Values)
        {
            view.LastInSync = null;
            view.LastInSyncAt = null;
            view.InSyncBefore = false;
        }

        State = ResourceState.Rebuilding;
        Reason = $"rebuilding a standby from {node}";
        _blockedNoted = false;
    }

    private void Block(string why)
    {
        Journal("blocked", "no failover: " + why);
        State = ResourceState.Degraded;
        Reason = $"{Primary} lost and not replaced: {why}";
        CloseIncident("blocked");
    }

    /// <summary>
    /// The old primary's first report after the failover: its offset as a primary is everything it
    /// acknowledged, so what lies past the promoted node's offset at promotion was acknowledged and
    /// is discarded as it becomes a replica. Journalled in the failover's incident, beside the estimate.
    /// </summary>
    private void MeasureLoss(string node, NodeReport report)
    {
        if (_lossWatch is not { } watch || node != watch.OldPrimary || report.Role == NodeRole.Unknown)
        {
            return;
        }

        _lossWatch = null;
        string text;
        if (!report.IsPrimary)
        {
            text = $"not measured: {node} came back as a replica (offset {report.ReplicationOffset}), its own final offset lost";
        }
        else if (report.ReplicationOffset > watch.PromotedOffset)
        {
            text = string.Create(CultureInfo.InvariantCulture,
                $"measured loss: {report.ReplicationOffset - watch.PromotedOffset} bytes of replication stream, offsets {watch.PromotedOffset + 1} to {report.ReplicationOffset}: {node} returned as a primary at offset {report.ReplicationOffset}, {watch.Promoted} was promoted at {watch.PromotedOffset}. What it had acknowledged there (writes, and its own 14-byte PINGs to its replicas) is discarded as it becomes a replica");
        }
        else
        {
            text = string.Create(CultureInfo.InvariantCulture,
                $"measured loss: 0 bytes: {node} returned as a primary at offset {report.ReplicationOffset}, not past {watch.Promoted}'s {watch.PromotedOffset} at promotion{(report.ReplicationOffset < watch.PromotedOffset ? " (it restarted from older data since)" : "")}");
        }

        Emit(new JournalLine("loss", text, Term, watch.Incident));
    }

    // ---- restart leases -------------------------------------------------------------------

    /// <summary>
    /// Grants, renews and ends each connected agent's restart lease. A primary under confirmation
    /// holds none (its host may be the one being replaced); a node that is not the primary but says
    /// it is master (a deposed primary) may restart only to be fenced at once; every other node may
    /// restart freely. Nothing is decided before a node's first report.
    /// </summary>
    private void UpdateLeases(DateTimeOffset now)
    {
        foreach (var view in _nodes.Values)
        {
            if (!view.Connected || view.Report is not { } report)
            {
                continue;
            }

            var name = view.Spec.Name;
            var terms = WantedTerms(name, report, now);
            var current = view.Lease;
            // A held lease is renewed on its node's own report once due (RenewLeaseOnReport), so that a
            // fleet's renewals are spread over the second its reports are: renewed here, by the clock, only
            // when no report has come for half as long again. (Renewed here on time, every lease of a fleet
            // that came up together was renewed on the same tick: 5,000 commands at once every other second.)
            // Decided on the terms alone: a grant is made only when one is sent (this runs for every node of
            // every resource ten times a second).
            var due = current is null || !terms.Same(current)
                || (terms.Granted && now - view.LeaseAt >= _policy.LeaseRenewal * 1.5);
            if (!due)
            {
                continue;
            }

            var wanted = WantedLease(name, terms);

            if (current is { Granted: true } && !wanted.Granted)
            {
                Journal("lease", $"restart lease of {name} ended: {wanted.Reason}");
            }
            else if (current is { Granted: false } && wanted.Granted)
            {
                Journal("lease", $"restart lease of {name} granted again");
            }

            SendLease(view, wanted, now);
        }
    }

    /// <summary>A held lease renewed on its node's report once it is due, unchanged; any change waits for the tick, as before.</summary>
    private void RenewLeaseOnReport(NodeView view, NodeReport report, DateTimeOffset now)
    {
        if (!view.Connected || view.Lease is not { Granted: true } current || now - view.LeaseAt < _policy.LeaseRenewal)
        {
            return;
        }

        var terms = WantedTerms(view.Spec.Name, report, now);
        if (terms.Same(current))
        {
            SendLease(view, WantedLease(view.Spec.Name, terms), now);
        }
    }

    /// <summary>
    /// What a node's lease should say: granted or not, and on which conditions. Two leases with the same
    /// terms (their reason and time to live aside) are a renewal, not a change.
    /// </summary>
    private readonly record struct LeaseTerms(bool Granted, bool FenceOnStart, bool NoStandby, bool NotPrimary)
    {
        public bool Same(LeaseGrant lease) =>
            lease.Granted == Granted && lease.FenceOnStart == FenceOnStart && lease.NoStandby == NoStandby && lease.NotPrimary == NotPrimary;
    }

    private LeaseTerms WantedTerms(string name, NodeReport report, DateTimeOffset now) =>
        name == Primary && State == ResourceState.Confirming
            ? new LeaseTerms(Granted: false, FenceOnStart: false, NoStandby: false, NotPrimary: false)
            : new LeaseTerms(Granted: true,
                FenceOnStart: Primary is not null && name != Primary && report.IsPrimary,
                NoStandby: name == Primary && NoStandbyPossible(now),
                NotPrimary: Primary is not null && name != Primary);

    private LeaseGrant WantedLease(string name, LeaseTerms terms) =>
        terms.Granted
            ? new LeaseGrant(true, _policy.LeaseTtl, terms.FenceOnStart, NoStandby: terms.NoStandby, NotPrimary: terms.NotPrimary)
            : new LeaseGrant(false, TimeSpan.Zero, false, _confirmation?.Request is not null
                ? $"term {Term}: {name}'s agent asked for a failover, which is being confirmed"
                : $"term {Term}: {name}'s host is under confirmation");

    private void SendLease(NodeView view, LeaseGrant lease, DateTimeOffset now)
    {
        Emit(new SendCommand(view.Spec.Name, CommandKind.RestartLease, Term, Lease: lease));
        view.Lease = lease;
        view.LeaseAt = now;
    }

    // ---- steady state ---------------------------------------------------------------------

    /// <summary>Brings a node to its place: the primary a master, every other node a replica of it.</summary>
    private void Reconcile(string node, DateTimeOffset now)
    {
        var view = _nodes[node];
        if (Primary is null || view.Report is not { Role: NodeRole.Primary or NodeRole.Replica } report || !view.Connected)
        {
            return;
        }

        if (view.LastCommandAt is { } last && now - last < _policy.ResendAfter)
        {
            return;
        }

        if (node == Primary)
        {
            if (!report.IsPrimary)
            {
                Journal("reconcile", $"{node} is the primary of term {Term} but reports role {Describe(report.Role)}: promoting it again");
                Command(view, now, CommandKind.Promote);
                Command(view, now, CommandKind.ApplySettings, settings: Settings);
            }
            else if (!Matches(report.Settings))
            {
                Command(view, now, CommandKind.ApplySettings, settings: Settings);
            }

            if (report.Fenced && SwitchingTo is null)
            {
                Command(view, now, CommandKind.Unfence);
            }

            return;
        }

        if (report.IsPrimary || report.PrimaryAddress != PrimaryAddress)
        {
            Journal("reconcile", $"{node} reports role {Describe(report.Role)}{(report.IsPrimary ? "" : " of " + report.PrimaryAddress)}; the primary of term {Term} is {Primary}: replicating from {PrimaryAddress}");
            Command(view, now, CommandKind.ReplicateFrom, PrimaryAddress);
        }
        else if (report.Fenced)
        {
            // Fenced on its restart as a deposed primary, and a replica of the right primary now: it refuses writes by itself.
            Command(view, now, CommandKind.Unfence);
        }
        else if (!Matches(report.Settings))
        {
            // Replicas keep the settings too, so that they hold from the moment one is promoted.
            Command(view, now, CommandKind.ApplySettings, settings: Settings);
        }
    }

    private void UpdateStandbyState(DateTimeOffset now)
    {
        if (State is ResourceState.Confirming || Primary is null)
        {
            return;
        }

        if (AnyStandby(now))
        {
            if (State != ResourceState.Healthy)
            {
                // A replica counted by what it held when the primary's Redis went down (its link dropped
                // with it) is said to be that, not "in sync": a primary restarted since may be taking
                // writes it has not got, until its agent judges it up and the replica resyncs.
                var standbys = _nodes.Values.Where(v => IsStandby(v, now)).Select(v => v.Spec.Name).ToList();
                var live = standbys.Where(IsInSync).ToList();
                var held = standbys.Except(live).ToList();
                var parts = new List<string>();
                if (live.Count > 0)
                {
                    parts.Add($"standby {string.Join(", ", live)} in sync with {Primary}");
                }

                if (held.Count > 0)
                {
                    parts.Add($"standby {string.Join(", ", held)} {(held.Count == 1 ? "holds" : "hold")} what {Primary} had when its Redis went down");
                }

                Journal("in-sync", $"{string.Join("; ", parts)}: failover allowed again");
            }

            State = ResourceState.Healthy;
            Reason = "";
            _blockedNoted = false;
        }
        else if (State != ResourceState.Rebuilding)
        {
            State = ResourceState.Degraded;
            Reason = $"no replica in sync with {Primary}: a failover is impossible until one is";
        }
    }

    /// <summary>
    /// True when no connected replica is in sync, nor was within the last window: only then does the
    /// primary's lease say that nothing can replace it (and its agent restart it from older data). A
    /// replica whose link just dropped is given the benefit of the doubt: its primary may have died a
    /// report before its agent could say so, and restarting it from an older snapshot then would lose
    /// exactly the writes that replica holds.
    /// </summary>
    private bool NoStandbyPossible(DateTimeOffset now)
    {
        foreach (var v in _nodes.Values)
        {
            if (IsStandby(v, now) || (v.Spec.Name != Primary && v.Connected && v.LastInSyncAt is { } at && now - at <= _policy.Window))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when a connected replica could be promoted now (<see cref="IsStandby"/>). A loop, as it runs on every report and tick.</summary>
    private bool AnyStandby(DateTimeOffset now)
    {
        foreach (var v in _nodes.Values)
        {
            if (IsStandby(v, now))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A connected replica a failover could promote: in sync now, or in sync when the primary's Redis
    /// went down. A replica's link drops the moment its primary's process dies, and what it holds then
    /// is all the primary had: that is no reason to call it out of sync (and refuse the failover, or
    /// tell the primary's agent that nothing can replace it), however long a restart takes to prove
    /// hopeless. It counts while the primary's own agent says its Redis is down, the replica was in
    /// sync since the last promotion, still follows it, and its offset is within
    /// Failover:MaxSyncLagBytes of the primary's last one.
    /// </summary>
    private bool IsStandby(NodeView view, DateTimeOffset now)
    {
        if (Primary is null || view.Spec.Name == Primary || !view.Connected)
        {
            return false;
        }

        if (IsInSync(view.Spec.Name))
        {
            return true;
        }

        var primary = _nodes[Primary];
        if (view.LastInSync is null || view.Report is not { IsPrimary: false, SyncInProgress: false } report || report.PrimaryAddress != PrimaryAddress)
        {
            return false;
        }

        // The primary's agent says its Redis is down: within MaxSyncLagBytes of its last offset. No
        // agent of the primary at all (its host is gone, or this coordinator never heard it): the
        // replica was in sync and still follows it, which is all anyone can know.
        return primary.Connected
            ? primary.Report is { LocalVerdict: not (Verdict.Healthy or Verdict.Busy) } down && down.ReplicationOffset - report.ReplicationOffset <= _policy.MaxSyncLagBytes
            : primary.Report is null;
    }

    private bool IsInSync(string node)
    {
        var view = _nodes[node];
        if (Primary is null || node == Primary || view.Report is not { } report)
        {
            return false;
        }

        var primaryOffset = _nodes[Primary].Report?.ReplicationOffset ?? 0;
        return !report.IsPrimary && report.LinkUp && !report.SyncInProgress && report.PrimaryAddress == PrimaryAddress
            && primaryOffset - report.ReplicationOffset <= _policy.MaxSyncLagBytes;
    }

    private bool Matches(ResourceSettings reported) =>
        (Settings.TimeoutSeconds is null || Settings.TimeoutSeconds == reported.TimeoutSeconds)
        && (Settings.MaxMemoryPolicy is null || string.Equals(Settings.MaxMemoryPolicy, reported.MaxMemoryPolicy, StringComparison.OrdinalIgnoreCase));

    private static TargetSeen? SaysSilent(NodeReport report, string target)
    {
        // A loop rather than FirstOrDefault: it runs on every replica's report.
        for (var i = 0; i < report.Observations.Count; i++)
        {
            var o = report.Observations[i];
            if (o.Target == target && Silent(o.Verdict, o.Port))
            {
                return o;
            }
        }

        return null;
    }

    private static string Describe(TargetSeen seen) =>
        seen.Verdict.SaysHostGone() ? nameof(Verdict.HostUnreachable) : $"silent ({seen.Verdict}, port {seen.Port}, SSH {seen.HostVerdict})";

    /// <summary>A role in INFO's words, as operators read it in the journal.</summary>
    private static string Describe(NodeRole? role) => (role ?? NodeRole.Unknown).LegacyName();

    /// <summary>The codes <see cref="FailoverBlockers"/> gives, each a label value of <c>redis_failover_failover_blocked</c>.</summary>
    public static readonly string[] BlockerCodes = ["paused", "no_primary", "no_standby_in_sync", "too_few_vantages", "store_unavailable"];

    /// <summary>
    /// Why a failover could not happen now, each with its code and in words: what <c>status</c>,
    /// <c>info</c> and the metrics must not hide behind "Healthy". Empty when the primary's loss
    /// would be confirmed and a standby promoted.
    /// </summary>
    /// <summary>
    /// A confirmation in progress: its round, how many vantages' answers this round count against the
    /// primary (its host gone, or for a requested failover its port down), the quorum, and when its
    /// window opened; null when none runs.
    /// </summary>
    public (int Round, int Against, int Quorum, DateTimeOffset WindowStart)? Progress =>
        _confirmation is { } c
            ? (c.Round, c.Request is not null ? DownCount(c) : HostGoneCount(c), _policy.QuorumOf(_nodes.Values.Count(v => v.Spec.Name != Primary)), c.WindowStart)
            : null;

    public IEnumerable<(string Code, string Text)> FailoverBlockers()
    {
        if (Paused)
        {
            yield return ("paused", "automatic failover is paused (redis-failover resume)");
        }

        if (Primary is not { } primary)
        {
            yield return ("no_primary", "no primary is known yet");
            yield break;
        }

        var standbys = _nodes.Values.Where(n => n.Spec.Name != primary).ToList();
        if (!InSyncNodes.Any(n => n != primary))
        {
            yield return ("no_standby_in_sync", $"no standby is in sync with {primary}");
        }

        var connected = standbys.Count(n => n.Connected);
        var quorum = _policy.QuorumOf(standbys.Count);
        if (connected < quorum)
        {
            yield return ("too_few_vantages", string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"only {connected} of {standbys.Count} vantage agents are connected: confirming {primary}'s loss needs {quorum} ({string.Join(", ", standbys.Where(n => !n.Connected).Select(n => n.Spec.Name))} not connected)"));
        }
    }

    private List<string> Vantages() =>
        [.. _nodes.Values.Where(v => v.Spec.Name != Primary && v.Connected).Select(v => v.Spec.Name)];

    /// <summary>Sends a command of the current term to a node and stamps it, so that the same correction is not resent before Failover:ResendAfter.</summary>
    private void Command(NodeView view, DateTimeOffset now, CommandKind kind, string? argument = null, ResourceSettings? settings = null)
    {
        Emit(new SendCommand(view.Spec.Name, kind, Term, argument, settings));
        view.LastCommandAt = now;
    }

    private void OpenIncident(string why)
    {
        _incidents++;
        _incident = string.Create(CultureInfo.InvariantCulture, $"{Resource}-t{Term}-{_incidents}");
        Emit(new IncidentChange(_incident, null));
        Journal("opened", why);
    }

    private void CloseIncident(string outcome) => Emit(new IncidentChange(null, outcome));

    private void Journal(string kind, string text) => Emit(new JournalLine(kind, text, Term));

    private void Emit(Effect effect) => _effects.Add(effect);

    private IReadOnlyList<Effect> Take()
    {
        var taken = _effects.ToArray();
        _effects.Clear();
        return taken;
    }
}

/// <summary>What the coordinator knows of one node.</summary>
internal sealed class NodeView(NodeSpec spec)
{
    public NodeSpec Spec { get; } = spec;

    public bool Connected { get; set; }

    public NodeReport? Report { get; set; }

    public DateTimeOffset? ReportAt { get; set; }

    public long TermSeen { get; set; }

    /// <summary>The last report that showed this node a replica in sync with the primary (cleared at each promotion).</summary>
    public NodeReport? LastInSync { get; set; }

    /// <summary>The self-fence of this node last journalled (one line per fence).</summary>
    public DateTimeOffset? SelfFenceJournalled { get; set; }

    /// <summary>The record says this node was in sync under an earlier coordinator (until its first report here settles it).</summary>
    public bool InSyncBefore { get; set; }

    /// <summary>When <see cref="LastInSync"/> was reported.</summary>
    public DateTimeOffset? LastInSyncAt { get; set; }

    public DateTimeOffset? LastCommandAt { get; set; }

    /// <summary>The restart lease last sent to this node's agent (null: none since it connected).</summary>
    public LeaseGrant? Lease { get; set; }

    public DateTimeOffset LeaseAt { get; set; }
}

/// <summary>A failover whose loss is measured when <paramref name="OldPrimary"/> reports again.</summary>
internal sealed record LossWatch(string OldPrimary, string Promoted, long PromotedOffset, string Incident);

/// <summary>What one vantage saw of the primary when asked this round.</summary>
/// <param name="HostSilentSince">Since when the vantage's SSH probes went unanswered (null: the last answered).</param>
/// <param name="ReceivedAt">When the coordinator got the answer.</param>
internal sealed record ProbeAnswer(Verdict Verdict, PortOutcome Port, DateTimeOffset? HostSilentSince = null, DateTimeOffset ReceivedAt = default);

/// <summary>A confirmation in progress: its window, its current round, and each vantage's answer in that round.</summary>
internal sealed class Confirmation(DateTimeOffset windowStart)
{
    public DateTimeOffset WindowStart { get; } = windowStart;

    public DateTimeOffset RoundStart { get; set; } = windowStart;

    public int Round { get; set; }

    /// <summary>Set once this round's wait for vantages not yet heard from is journalled.</summary>
    public bool WaitJournalled { get; set; }

    /// <summary>Set when the primary's own agent asked for this failover: only its port being down is confirmed.</summary>
    public FailoverAsk? Request { get; init; }

    public Dictionary<string, ProbeAnswer> Answers { get; } = new(StringComparer.Ordinal);
}

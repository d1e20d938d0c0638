namespace RedisAgent.Node;

/// <summary>A node of the resource as the coordinator names it.</summary>
internal sealed record Member(string Name, string Address, string Zone);

/// <summary>
/// The resource's nodes as the coordinator last said (at each connection, and when an operator adds
/// or removes one), so that this agent watches exactly the others. Null until a coordinator that
/// sends it has: the configured <c>Peers</c> are then all there is.
/// </summary>
internal sealed class Membership
{
    private readonly Lock _lock = new();

    public IReadOnlyList<Member>? Current { get; private set; }

    /// <summary>Raised (outside any lock) when the list changed.</summary>
    public event Action<IReadOnlyList<Member>>? Changed;

    public void Set(IReadOnlyList<Member> members)
    {
        lock (_lock)
        {
            if (Current is { } current && current.Count == members.Count && !current.Except(members).Any())
            {
                return;
            }

            Current = members;
        }

        Changed?.Invoke(members);
    }
}

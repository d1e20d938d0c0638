using Microsoft.Extensions.Options;

namespace RedisShared.Hosting;

/// <summary>Collects what is wrong with a configuration, each message naming its key.</summary>
internal sealed class ConfigErrors
{
    private readonly List<string> _errors = [];

    /// <summary>
    /// The longest duration any key takes. .NET's timers end at about 49.7 days (a longer one throws
    /// when it is armed, crashing the loop that armed it, not at start); no probe, backoff or
    /// timeout of this agent needs more than a week.
    /// </summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(7);

    public void Positive(string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero || value > MaxDuration)
        {
            _errors.Add($"{key} must be greater than zero and at most {MaxDuration.TotalDays:0} days (got {value}).");
        }
    }

    public void NotNegative(string key, TimeSpan value)
    {
        if (value < TimeSpan.Zero || value > MaxDuration)
        {
            _errors.Add($"{key} must be from zero to {MaxDuration.TotalDays:0} days (got {value}).");
        }
    }

    public void Between(string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            _errors.Add($"{key} must be between {min} and {max} (got {value}).");
        }
    }

    public void Require(bool condition, string message)
    {
        if (!condition)
        {
            _errors.Add(message);
        }
    }

    public ValidateOptionsResult Result() =>
        _errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(_errors);
}

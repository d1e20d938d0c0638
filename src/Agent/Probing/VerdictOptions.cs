using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using RedisAgent.Hosting;
using RedisShared.Hosting;

namespace RedisAgent.Probing;

/// <summary>How many observations it takes to change the agent's mind. Section <c>Verdict</c>.</summary>
internal sealed class VerdictOptions
{
    public const string Section = "Verdict";

    /// <summary>Consecutive failed probes before the node is <see cref="NodeVerdict.ProcessDown"/> or <see cref="NodeVerdict.Hung"/>.</summary>
    [Range(1, 100)]
    public int FailuresToDown { get; set; } = 3;

    /// <summary>Consecutive answered probes before the node is <see cref="NodeVerdict.Healthy"/>, <see cref="NodeVerdict.Busy"/> or <see cref="NodeVerdict.Misconfigured"/>.</summary>
    [Range(1, 100)]
    public int SuccessesToUp { get; set; } = 2;

    /// <summary>How long a node may accept connections without answering before it is <see cref="NodeVerdict.Hung"/> (and killed).</summary>
    public TimeSpan HangThreshold { get; set; } = TimeSpan.FromSeconds(10);
}

internal sealed class VerdictOptionsValidator : IValidateOptions<VerdictOptions>
{
    public ValidateOptionsResult Validate(string? name, VerdictOptions options)
    {
        var errors = new ConfigErrors();
        errors.Between($"{VerdictOptions.Section}:{nameof(VerdictOptions.FailuresToDown)}", options.FailuresToDown, 1, 100);
        errors.Between($"{VerdictOptions.Section}:{nameof(VerdictOptions.SuccessesToUp)}", options.SuccessesToUp, 1, 100);
        errors.Positive($"{VerdictOptions.Section}:{nameof(VerdictOptions.HangThreshold)}", options.HangThreshold);
        return errors.Result();
    }
}

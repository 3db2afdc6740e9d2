# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_aios_global_optspecs
    string join \n home= h/help V/version
end

function __fish_aios_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_aios_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_aios_using_subcommand
    set -l cmd (__fish_aios_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c aios -n "__fish_aios_needs_command" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_needs_command" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_needs_command" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_needs_command" -f -a "init" -d 'Set up: the data directory, a commented config.toml, the tick timer'
complete -c aios -n "__fish_aios_needs_command" -f -a "new" -d 'Write a new workflow file from a library workflow or a minimal skeleton'
complete -c aios -n "__fish_aios_needs_command" -f -a "doctor" -d 'Check config, providers, tool servers, mail logins, secrets, ticking and the database'
complete -c aios -n "__fish_aios_needs_command" -f -a "run" -d 'Start a run of a workflow file'
complete -c aios -n "__fish_aios_needs_command" -f -a "check" -d 'Validate workflow files without running them'
complete -c aios -n "__fish_aios_needs_command" -f -a "plan" -d 'Show what a run of a workflow would do, without running it: order, approvals, secrets, cost'
complete -c aios -n "__fish_aios_needs_command" -f -a "inbox" -d 'Review what waits for your decision: a full-screen TUI on a terminal, else the list'
complete -c aios -n "__fish_aios_needs_command" -f -a "approve" -d 'Approve an inbox item, commit its action and continue the run'
complete -c aios -n "__fish_aios_needs_command" -f -a "reject" -d 'Reject an inbox item and continue the run'
complete -c aios -n "__fish_aios_needs_command" -f -a "runs" -d 'List runs'
complete -c aios -n "__fish_aios_needs_command" -f -a "show" -d 'Show a run: steps, status, outputs and timeline'
complete -c aios -n "__fish_aios_needs_command" -f -a "log" -d 'Print a run\'s events in order'
complete -c aios -n "__fish_aios_needs_command" -f -a "resume" -d 'Continue a waiting, failed or interrupted run (on a corrected file with --workflow)'
complete -c aios -n "__fish_aios_needs_command" -f -a "cancel" -d 'Cancel a run'
complete -c aios -n "__fish_aios_needs_command" -f -a "undo" -d 'Propose the undo of a run\'s committed steps, latest first (their `undo`)'
complete -c aios -n "__fish_aios_needs_command" -f -a "replay" -d 'Rebuild a run\'s state from its events and compare it with the stored state'
complete -c aios -n "__fish_aios_needs_command" -f -a "llm" -d 'Try prompts, list and check models, and inspect every LLM call'
complete -c aios -n "__fish_aios_needs_command" -f -a "config" -d 'Print, show (secrets hidden) or edit config.toml'
complete -c aios -n "__fish_aios_needs_command" -f -a "fact" -d 'Set and read versioned facts (entity, key -> value)'
complete -c aios -n "__fish_aios_needs_command" -f -a "memory" -d 'Add, search, forget and import memory notes'
complete -c aios -n "__fish_aios_needs_command" -f -a "outcome" -d 'Attach measured results to a run, or list them'
complete -c aios -n "__fish_aios_needs_command" -f -a "budget" -d 'Show LLM spending today, this month and per workflow against the caps'
complete -c aios -n "__fish_aios_needs_command" -f -a "stats" -d 'Show the last 30 days: LLM spend per day against the caps, items decided and the median time to decide, failures per workflow, outcomes over time'
complete -c aios -n "__fish_aios_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c aios -n "__fish_aios_needs_command" -f -a "schema" -d 'Print the JSON Schema of workflow files or of config.toml (for editors)'
complete -c aios -n "__fish_aios_needs_command" -f -a "schedule" -d 'Register, list, pause, resume and remove scheduled workflows'
complete -c aios -n "__fish_aios_needs_command" -f -a "tick" -d 'Fire the schedules that are due and continue runs that can go on'
complete -c aios -n "__fish_aios_needs_command" -f -a "daemon" -d 'Tick in a resident loop until interrupted (SIGINT/SIGTERM)'
complete -c aios -n "__fish_aios_needs_command" -f -a "worker" -d 'Claim queued runs (`aios run --detach`, tagged steps) and drive them, until interrupted'
complete -c aios -n "__fish_aios_needs_command" -f -a "workers" -d 'List live workers with the runs they hold, and the runs queued for workers'
complete -c aios -n "__fish_aios_needs_command" -f -a "hook" -d 'Register, list and remove inbound webhooks (for `aios serve`)'
complete -c aios -n "__fish_aios_needs_command" -f -a "serve" -d 'Start workflows from signed HTTP requests (POST /hooks/NAME)'
complete -c aios -n "__fish_aios_needs_command" -f -a "mcp" -d 'List MCP tool servers and their tools, or call a tool'
complete -c aios -n "__fish_aios_needs_command" -f -a "secret" -d 'Keep secrets for templates (`secret("NAME")`): set, list, remove'
complete -c aios -n "__fish_aios_needs_command" -f -a "persona" -d 'List personas and show their scopes (what a workflow may touch)'
complete -c aios -n "__fish_aios_needs_command" -f -a "trust" -d 'Show how often each step\'s proposals were approved unchanged; promote or demote steps'
complete -c aios -n "__fish_aios_needs_command" -f -a "notify" -d 'Test the channels of [notify] and list what was sent to the operator'
complete -c aios -n "__fish_aios_needs_command" -f -a "status" -d 'One screen of health: ticking, pending items, schedules, breakers, spend, backups'
complete -c aios -n "__fish_aios_needs_command" -f -a "breakers" -d 'List the connector targets\' circuit breakers, or close one by hand'
complete -c aios -n "__fish_aios_needs_command" -f -a "backup" -d 'Copy the database while it is in use (a consistent online backup)'
complete -c aios -n "__fish_aios_needs_command" -f -a "restore" -d 'Replace the database with a checked backup (the replaced one is kept aside)'
complete -c aios -n "__fish_aios_needs_command" -f -a "migrate" -d 'Copy this journal into a PostgreSQL database, rebuild its state there and compare'
complete -c aios -n "__fish_aios_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand init" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand init" -l yes -d 'Install the tick timer (systemd user units) without asking'
complete -c aios -n "__fish_aios_using_subcommand init" -l no-timer -d 'Do not install the tick timer, and do not ask'
complete -c aios -n "__fish_aios_using_subcommand init" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand init" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand new" -l from -d 'Start from this library workflow (see --list) instead of the skeleton' -r
complete -c aios -n "__fish_aios_using_subcommand new" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand new" -l list -d 'List the library\'s workflows'
complete -c aios -n "__fish_aios_using_subcommand new" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand new" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand doctor" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand doctor" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand run" -s i -l input -d 'Set an input: NAME=VALUE (repeatable)' -r
complete -c aios -n "__fish_aios_using_subcommand run" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand run" -l dry-run -d 'Rehearse the run: compute values and drafts, render every action exactly as it would be proposed, commit nothing (a dry run, kept apart from real runs)'
complete -c aios -n "__fish_aios_using_subcommand run" -l with-llm -d 'In a dry run, let agent steps call the configured models (they really pay) instead of the offline drafts'
complete -c aios -n "__fish_aios_using_subcommand run" -l json -d 'Print the run as JSON when the command ends'
complete -c aios -n "__fish_aios_using_subcommand run" -s q -l quiet -d 'Do not print progress'
complete -c aios -n "__fish_aios_using_subcommand run" -l detach -d 'Create the run and queue it for a worker (`aios worker`) instead of driving it here; exits at once'
complete -c aios -n "__fish_aios_using_subcommand run" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand run" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand check" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand check" -l json -d 'Print the diagnostics as JSON (file, line, column, end, severity, message, hint)'
complete -c aios -n "__fish_aios_using_subcommand check" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand check" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand plan" -s i -l input -d 'Set an input: NAME=VALUE (repeatable); conditions that read only inputs are evaluated with them' -r
complete -c aios -n "__fish_aios_using_subcommand plan" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand plan" -l json -d 'Print the plan as JSON'
complete -c aios -n "__fish_aios_using_subcommand plan" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand plan" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show unsnooze help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show unsnooze help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show unsnooze help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show unsnooze help" -f -a "list" -d 'List pending items (the default)'
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show unsnooze help" -f -a "show" -d 'Show one item in full: the exact action, its evidence, its run and step'
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show unsnooze help" -f -a "unsnooze" -d 'Show a snoozed item in the inbox again now'
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show unsnooze help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from list" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from list" -l all -d 'Include decided and cancelled items'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from show" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from show" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from show" -l action -d 'Print only the action, as JSON ready to edit for `aios approve --edit`'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from unsnooze" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from unsnooze" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from unsnooze" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from help" -f -a "list" -d 'List pending items (the default)'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one item in full: the exact action, its evidence, its run and step'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from help" -f -a "unsnooze" -d 'Show a snoozed item in the inbox again now'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand approve" -l edit -d 'Commit this edited action instead (a JSON or TOML file; see `aios inbox show ID --action`); for a rescue, the step\'s reply (JSON checked against its schema, or text)' -r -F
complete -c aios -n "__fish_aios_using_subcommand approve" -l field -d 'Fill in a field of an approval gate: NAME=VALUE (repeatable)' -r
complete -c aios -n "__fish_aios_using_subcommand approve" -l reason -d 'A note kept with the decision' -r
complete -c aios -n "__fish_aios_using_subcommand approve" -l raise -d 'For a budget stop: let this run spend USD more than its caps' -r
complete -c aios -n "__fish_aios_using_subcommand approve" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand approve" -l done -d 'For an interrupted step: it did happen; mark it done instead of running it again'
complete -c aios -n "__fish_aios_using_subcommand approve" -l switch -d 'For a budget stop: use the step\'s next model instead'
complete -c aios -n "__fish_aios_using_subcommand approve" -l offline -d 'For a rescue: accept the step\'s offline draft as its reply'
complete -c aios -n "__fish_aios_using_subcommand approve" -l skip -d 'For a failure: skip the failed step and continue the run (when the step says on_reject = "skip")'
complete -c aios -n "__fish_aios_using_subcommand approve" -l compensate -d 'For a failure: leave the run failed and propose the undo of its committed steps'
complete -c aios -n "__fish_aios_using_subcommand approve" -l no-resume -d 'Commit the decision but do not continue the run'
complete -c aios -n "__fish_aios_using_subcommand approve" -l confirm-stale -d 'Approve a STALE item (its evidence changed since it was proposed)'
complete -c aios -n "__fish_aios_using_subcommand approve" -l json -d 'Print the run as JSON when the command ends'
complete -c aios -n "__fish_aios_using_subcommand approve" -s q -l quiet -d 'Do not print progress'
complete -c aios -n "__fish_aios_using_subcommand approve" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand approve" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand reject" -l reason -d 'Why (kept with the decision and shown to the run)' -r
complete -c aios -n "__fish_aios_using_subcommand reject" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand reject" -l no-resume -d 'Record the decision but do not continue the run'
complete -c aios -n "__fish_aios_using_subcommand reject" -l json -d 'Print the run as JSON when the command ends'
complete -c aios -n "__fish_aios_using_subcommand reject" -s q -l quiet -d 'Do not print progress'
complete -c aios -n "__fish_aios_using_subcommand reject" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand reject" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand runs" -l status -d 'Only runs with this status' -r -f -a "running\t''
waiting\t''
succeeded\t''
failed\t''
cancelled\t''"
complete -c aios -n "__fish_aios_using_subcommand runs" -l limit -d 'At most this many runs, newest first' -r
complete -c aios -n "__fish_aios_using_subcommand runs" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand runs" -l all -d 'Every run (however long the history)'
complete -c aios -n "__fish_aios_using_subcommand runs" -l dry -d 'List dry runs (`aios run --dry-run`) instead of real runs'
complete -c aios -n "__fish_aios_using_subcommand runs" -l prune -d 'With --dry: remove every dry run (and its events) instead of listing them'
complete -c aios -n "__fish_aios_using_subcommand runs" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand runs" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand runs" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand show" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand show" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand show" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand show" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand log" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand log" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand log" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand log" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand resume" -l workflow -d 'Continue on this corrected workflow file instead of the run\'s snapshot (steps that finished keep their output; see README "Steering runs")' -r -F
complete -c aios -n "__fish_aios_using_subcommand resume" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand resume" -l json -d 'Print the run as JSON when the command ends'
complete -c aios -n "__fish_aios_using_subcommand resume" -s q -l quiet -d 'Do not print progress'
complete -c aios -n "__fish_aios_using_subcommand resume" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand resume" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand cancel" -l reason -d 'Why (kept in the journal)' -r
complete -c aios -n "__fish_aios_using_subcommand cancel" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand cancel" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand cancel" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand undo" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand undo" -l plan -d 'List what would be undone, and what cannot be, without proposing anything'
complete -c aios -n "__fish_aios_using_subcommand undo" -l json -d 'Print the plan, or the compensation run, as JSON'
complete -c aios -n "__fish_aios_using_subcommand undo" -s q -l quiet -d 'Do not print progress'
complete -c aios -n "__fish_aios_using_subcommand undo" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand undo" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand replay" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand replay" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand replay" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand llm; and not __fish_seen_subcommand_from log prompt models ping help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand llm; and not __fish_seen_subcommand_from log prompt models ping help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand llm; and not __fish_seen_subcommand_from log prompt models ping help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand llm; and not __fish_seen_subcommand_from log prompt models ping help" -f -a "log" -d 'Show LLM calls, newest first: one line each, or prompts and replies with --full'
complete -c aios -n "__fish_aios_using_subcommand llm; and not __fish_seen_subcommand_from log prompt models ping help" -f -a "prompt" -d 'Send a prompt through a model alias and print the reply (journaled like any call)'
complete -c aios -n "__fish_aios_using_subcommand llm; and not __fish_seen_subcommand_from log prompt models ping help" -f -a "models" -d 'List the model aliases and the models each provider reports'
complete -c aios -n "__fish_aios_using_subcommand llm; and not __fish_seen_subcommand_from log prompt models ping help" -f -a "ping" -d 'Check that each provider answers, accepts its key and serves its aliases\' models'
complete -c aios -n "__fish_aios_using_subcommand llm; and not __fish_seen_subcommand_from log prompt models ping help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from log" -l run -d 'Only the calls of this run (0: those of `aios llm prompt`)' -r
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from log" -l step -d 'Only the calls of this step' -r
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from log" -l limit -d 'At most N calls (the newest)' -r
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from log" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from log" -l errors -d 'Only failed calls and invalid replies'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from log" -l full -d 'Show each call\'s prompt, reply and error in full'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from log" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from log" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from log" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from prompt" -s m -l model -d 'The model alias ([models.ALIAS] in the config, or `heuristic`)' -r
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from prompt" -l system -d 'A system prompt' -r
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from prompt" -l max-tokens -d 'The reply\'s limit in tokens' -r
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from prompt" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from prompt" -l json -d 'Print the call as JSON instead of the reply'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from prompt" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from prompt" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from models" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from models" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from models" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from models" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from ping" -s m -l model -d 'Only the provider of this model alias' -r
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from ping" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from ping" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from ping" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from ping" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from help" -f -a "log" -d 'Show LLM calls, newest first: one line each, or prompts and replies with --full'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from help" -f -a "prompt" -d 'Send a prompt through a model alias and print the reply (journaled like any call)'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from help" -f -a "models" -d 'List the model aliases and the models each provider reports'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from help" -f -a "ping" -d 'Check that each provider answers, accepts its key and serves its aliases\' models'
complete -c aios -n "__fish_aios_using_subcommand llm; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand config; and not __fish_seen_subcommand_from path show edit help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand config; and not __fish_seen_subcommand_from path show edit help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand config; and not __fish_seen_subcommand_from path show edit help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand config; and not __fish_seen_subcommand_from path show edit help" -f -a "path" -d 'Print the path of config.toml (whether or not it exists)'
complete -c aios -n "__fish_aios_using_subcommand config; and not __fish_seen_subcommand_from path show edit help" -f -a "show" -d 'Print the configuration with its secrets hidden (`secret("NAME")` stays a name)'
complete -c aios -n "__fish_aios_using_subcommand config; and not __fish_seen_subcommand_from path show edit help" -f -a "edit" -d 'Open config.toml in $VISUAL or $EDITOR, then check that it still reads'
complete -c aios -n "__fish_aios_using_subcommand config; and not __fish_seen_subcommand_from path show edit help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from path" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from path" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from path" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from show" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from show" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from edit" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from edit" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from edit" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "path" -d 'Print the path of config.toml (whether or not it exists)'
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the configuration with its secrets hidden (`secret("NAME")` stays a name)'
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "edit" -d 'Open config.toml in $VISUAL or $EDITOR, then check that it still reads'
complete -c aios -n "__fish_aios_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand fact; and not __fish_seen_subcommand_from set get history list unset help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand fact; and not __fish_seen_subcommand_from set get history list unset help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand fact; and not __fish_seen_subcommand_from set get history list unset help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand fact; and not __fish_seen_subcommand_from set get history list unset help" -f -a "set" -d 'Set a fact; the previous value stays in its history'
complete -c aios -n "__fish_aios_using_subcommand fact; and not __fish_seen_subcommand_from set get history list unset help" -f -a "get" -d 'Print an entity\'s current facts, or one fact\'s value'
complete -c aios -n "__fish_aios_using_subcommand fact; and not __fish_seen_subcommand_from set get history list unset help" -f -a "history" -d 'Print every version of a fact, oldest first'
complete -c aios -n "__fish_aios_using_subcommand fact; and not __fish_seen_subcommand_from set get history list unset help" -f -a "list" -d 'List the current facts of every entity, or of one'
complete -c aios -n "__fish_aios_using_subcommand fact; and not __fish_seen_subcommand_from set get history list unset help" -f -a "unset" -d 'Unset a fact; its history keeps every version and the unset'
complete -c aios -n "__fish_aios_using_subcommand fact; and not __fish_seen_subcommand_from set get history list unset help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from set" -l note -d 'Why it changed (kept with this version)' -r
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from set" -l decision -d 'The inbox item whose decision this fact records' -r
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from set" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from set" -l json -d 'Print the new version as JSON'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from set" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from get" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from get" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from history" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from history" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from history" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from history" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from list" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from unset" -l note -d 'Why it was unset (kept with the tombstone version)' -r
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from unset" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from unset" -l json -d 'Print the tombstone version as JSON'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from unset" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from unset" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from help" -f -a "set" -d 'Set a fact; the previous value stays in its history'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from help" -f -a "get" -d 'Print an entity\'s current facts, or one fact\'s value'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from help" -f -a "history" -d 'Print every version of a fact, oldest first'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the current facts of every entity, or of one'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from help" -f -a "unset" -d 'Unset a fact; its history keeps every version and the unset'
complete -c aios -n "__fish_aios_using_subcommand fact; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand memory; and not __fish_seen_subcommand_from add search forget import list help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand memory; and not __fish_seen_subcommand_from add search forget import list help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand memory; and not __fish_seen_subcommand_from add search forget import list help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand memory; and not __fish_seen_subcommand_from add search forget import list help" -f -a "add" -d 'Add a note'
complete -c aios -n "__fish_aios_using_subcommand memory; and not __fish_seen_subcommand_from add search forget import list help" -f -a "search" -d 'Search notes, decisions and outcomes'
complete -c aios -n "__fish_aios_using_subcommand memory; and not __fish_seen_subcommand_from add search forget import list help" -f -a "forget" -d 'Remove a note from memory and every index'
complete -c aios -n "__fish_aios_using_subcommand memory; and not __fish_seen_subcommand_from add search forget import list help" -f -a "import" -d 'Add notes from a JSON Lines file in one transaction'
complete -c aios -n "__fish_aios_using_subcommand memory; and not __fish_seen_subcommand_from add search forget import list help" -f -a "list" -d 'List notes, oldest first'
complete -c aios -n "__fish_aios_using_subcommand memory; and not __fish_seen_subcommand_from add search forget import list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from add" -l tag -d 'A tag (repeatable), like customer:acme' -r
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from add" -l source -d 'Where it comes from (default: manual)' -r
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from add" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from add" -l json -d 'Print the note as JSON'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from search" -s k -l k -d 'How many results' -r
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from search" -l kind -d 'Only documents of this kind (repeatable)' -r -f -a "note\t''
decision\t''
outcome\t''"
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from search" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from search" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from search" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from search" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from forget" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from forget" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from forget" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from import" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from import" -l json -d 'Print the new ids as JSON'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from import" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from list" -l tag -d 'Only notes with this tag, like customer:acme' -r
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from list" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a note'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from help" -f -a "search" -d 'Search notes, decisions and outcomes'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from help" -f -a "forget" -d 'Remove a note from memory and every index'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from help" -f -a "import" -d 'Add notes from a JSON Lines file in one transaction'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from help" -f -a "list" -d 'List notes, oldest first'
complete -c aios -n "__fish_aios_using_subcommand memory; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand outcome" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand outcome" -l json -d 'Print the run\'s outcomes as JSON'
complete -c aios -n "__fish_aios_using_subcommand outcome" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand outcome" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand budget" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand budget" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand budget" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand budget" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand stats" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand stats" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand stats" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand stats" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand completions" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand completions" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand completions" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand schema" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand schema" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aios -n "__fish_aios_using_subcommand schema" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand schedule; and not __fish_seen_subcommand_from add list pause resume remove install help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand schedule; and not __fish_seen_subcommand_from add list pause resume remove install help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand schedule; and not __fish_seen_subcommand_from add list pause resume remove install help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand schedule; and not __fish_seen_subcommand_from add list pause resume remove install help" -f -a "add" -d 'Register a workflow\'s [trigger], cron or imap (stores its path and a snapshot)'
complete -c aios -n "__fish_aios_using_subcommand schedule; and not __fish_seen_subcommand_from add list pause resume remove install help" -f -a "list" -d 'List schedules: next fire, last fire, last result, health'
complete -c aios -n "__fish_aios_using_subcommand schedule; and not __fish_seen_subcommand_from add list pause resume remove install help" -f -a "pause" -d 'Stop firing a schedule until it is resumed'
complete -c aios -n "__fish_aios_using_subcommand schedule; and not __fish_seen_subcommand_from add list pause resume remove install help" -f -a "resume" -d 'Fire a paused schedule again (instants that passed while paused are not run)'
complete -c aios -n "__fish_aios_using_subcommand schedule; and not __fish_seen_subcommand_from add list pause resume remove install help" -f -a "remove" -d 'Remove a schedule (its runs and fire history stay in the journal)'
complete -c aios -n "__fish_aios_using_subcommand schedule; and not __fish_seen_subcommand_from add list pause resume remove install help" -f -a "install" -d 'Print a crontab line and a systemd user timer that run `aios tick` every minute'
complete -c aios -n "__fish_aios_using_subcommand schedule; and not __fish_seen_subcommand_from add list pause resume remove install help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from add" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from list" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from pause" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from pause" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from pause" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from resume" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from resume" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from resume" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from install" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from install" -l write -d 'Write the systemd user units to ~/.config/systemd/user/ (the crontab is never edited)'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from install" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "add" -d 'Register a workflow\'s [trigger], cron or imap (stores its path and a snapshot)'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "list" -d 'List schedules: next fire, last fire, last result, health'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "pause" -d 'Stop firing a schedule until it is resumed'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "resume" -d 'Fire a paused schedule again (instants that passed while paused are not run)'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a schedule (its runs and fire history stay in the journal)'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "install" -d 'Print a crontab line and a systemd user timer that run `aios tick` every minute'
complete -c aios -n "__fish_aios_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand tick" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand tick" -l json -d 'Print what was done as JSON'
complete -c aios -n "__fish_aios_using_subcommand tick" -s q -l quiet -d 'Print nothing unless something failed'
complete -c aios -n "__fish_aios_using_subcommand tick" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand tick" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand daemon" -l every -d 'How often to tick' -r
complete -c aios -n "__fish_aios_using_subcommand daemon" -l ticks -d 'Tick this many times, then exit (default: until interrupted)' -r
complete -c aios -n "__fish_aios_using_subcommand daemon" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand daemon" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand daemon" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand worker" -l concurrency -d 'How many runs to drive at once' -r
complete -c aios -n "__fish_aios_using_subcommand worker" -l tags -d 'This worker\'s tags, comma-separated: it also claims runs whose steps need them (`runs_on`)' -r
complete -c aios -n "__fish_aios_using_subcommand worker" -l lease -d 'How long a claim lasts without a heartbeat (renewed every third of it); a killed worker\'s runs are taken over after it' -r
complete -c aios -n "__fish_aios_using_subcommand worker" -l poll -d 'How long to wait before looking again when nothing is claimable' -r
complete -c aios -n "__fish_aios_using_subcommand worker" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand worker" -l exit-when-idle -d 'Exit when nothing is claimable and no run is in flight'
complete -c aios -n "__fish_aios_using_subcommand worker" -l json -d 'Print one JSON object per run driven on stdout'
complete -c aios -n "__fish_aios_using_subcommand worker" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand worker" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand workers" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand workers" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand workers" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand workers" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand hook; and not __fish_seen_subcommand_from add list remove help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand hook; and not __fish_seen_subcommand_from add list remove help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand hook; and not __fish_seen_subcommand_from add list remove help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand hook; and not __fish_seen_subcommand_from add list remove help" -f -a "add" -d 'Register a hook that starts a workflow (prints its secret once)'
complete -c aios -n "__fish_aios_using_subcommand hook; and not __fish_seen_subcommand_from add list remove help" -f -a "list" -d 'List hooks'
complete -c aios -n "__fish_aios_using_subcommand hook; and not __fish_seen_subcommand_from add list remove help" -f -a "remove" -d 'Remove a hook and its secret'
complete -c aios -n "__fish_aios_using_subcommand hook; and not __fish_seen_subcommand_from add list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from add" -l format -d 'How requests prove they come from the sender [default: aios for a new hook, else unchanged]' -r -f -a "aios\t'X-Aios-Signature: sha256=HEX, or Authorization: Bearer SECRET'
github\t'GitHub: X-Hub-Signature-256: sha256=HEX'
stripe\t'Stripe: Stripe-Signature: t=TIMESTAMP,v1=HEX'"
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from add" -l payload -d 'Pass the whole JSON body as this one input instead of one input per field' -r
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from add" -l tolerance -d 'How far a Stripe signature\'s timestamp may be from now, against replays [default: 5m for a new hook, else unchanged]' -r
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from add" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from add" -l rotate -d 'Replace the secret of an existing hook with a new one'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from add" -l fields -d 'Take one input per field of the body again (undoes --payload)'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from add" -l secret-stdin -d 'Read the secret from stdin (one trailing newline dropped) instead of making one; a Stripe hook takes Stripe\'s signing secret this way'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from list" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from remove" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "add" -d 'Register a hook that starts a workflow (prints its secret once)'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "list" -d 'List hooks'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a hook and its secret'
complete -c aios -n "__fish_aios_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand serve" -l addr -d 'The address to listen on (loopback by default; port 0 picks a free one)' -r
complete -c aios -n "__fish_aios_using_subcommand serve" -l max-body -d 'Refuse request bodies larger than this many bytes (413)' -r
complete -c aios -n "__fish_aios_using_subcommand serve" -l read-timeout -d 'How long a request\'s head may take to arrive, and then its body' -r
complete -c aios -n "__fish_aios_using_subcommand serve" -l max-connections -d 'Open connections at most (past it, the longest-waiting one is closed)' -r
complete -c aios -n "__fish_aios_using_subcommand serve" -l workers -d 'Threads driving accepted runs' -r
complete -c aios -n "__fish_aios_using_subcommand serve" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand serve" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand serve" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand mcp; and not __fish_seen_subcommand_from list tools call help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand mcp; and not __fish_seen_subcommand_from list tools call help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand mcp; and not __fish_seen_subcommand_from list tools call help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand mcp; and not __fish_seen_subcommand_from list tools call help" -f -a "list" -d 'List the configured tool servers with their status and tool count (starts each one)'
complete -c aios -n "__fish_aios_using_subcommand mcp; and not __fish_seen_subcommand_from list tools call help" -f -a "tools" -d 'List a server\'s tools: name, description, input schema, annotations'
complete -c aios -n "__fish_aios_using_subcommand mcp; and not __fish_seen_subcommand_from list tools call help" -f -a "call" -d 'Call a tool once: at once when it is read-only, otherwise as a proposal in the inbox'
complete -c aios -n "__fish_aios_using_subcommand mcp; and not __fish_seen_subcommand_from list tools call help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from list" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from tools" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from tools" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from tools" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from tools" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from call" -l args -d 'The arguments, a JSON object' -r
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from call" -l timeout -d 'How long to wait for the answer' -r
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from call" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from call" -l json -d 'Print the result (or the proposal\'s run) as JSON'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from call" -s q -l quiet -d 'Do not print progress'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from call" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from call" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the configured tool servers with their status and tool count (starts each one)'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from help" -f -a "tools" -d 'List a server\'s tools: name, description, input schema, annotations'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from help" -f -a "call" -d 'Call a tool once: at once when it is read-only, otherwise as a proposal in the inbox'
complete -c aios -n "__fish_aios_using_subcommand mcp; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand secret; and not __fish_seen_subcommand_from set list rm help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand secret; and not __fish_seen_subcommand_from set list rm help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand secret; and not __fish_seen_subcommand_from set list rm help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand secret; and not __fish_seen_subcommand_from set list rm help" -f -a "set" -d 'Set a secret: typed on the terminal (not shown), or piped on stdin'
complete -c aios -n "__fish_aios_using_subcommand secret; and not __fish_seen_subcommand_from set list rm help" -f -a "list" -d 'List secrets: names, where each is kept and when it was set (never values)'
complete -c aios -n "__fish_aios_using_subcommand secret; and not __fish_seen_subcommand_from set list rm help" -f -a "rm" -d 'Remove a secret from the store'
complete -c aios -n "__fish_aios_using_subcommand secret; and not __fish_seen_subcommand_from set list rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from set" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from set" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from list" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from rm" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "set" -d 'Set a secret: typed on the terminal (not shown), or piped on stdin'
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "list" -d 'List secrets: names, where each is kept and when it was set (never values)'
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove a secret from the store'
complete -c aios -n "__fish_aios_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand persona; and not __fish_seen_subcommand_from list show help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand persona; and not __fish_seen_subcommand_from list show help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand persona; and not __fish_seen_subcommand_from list show help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand persona; and not __fish_seen_subcommand_from list show help" -f -a "list" -d 'List the personas ([personas.NAME] in the config, and `default`)'
complete -c aios -n "__fish_aios_using_subcommand persona; and not __fish_seen_subcommand_from list show help" -f -a "show" -d 'Print a persona\'s effective scopes'
complete -c aios -n "__fish_aios_using_subcommand persona; and not __fish_seen_subcommand_from list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand persona; and __fish_seen_subcommand_from list" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand persona; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand persona; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand persona; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand persona; and __fish_seen_subcommand_from show" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand persona; and __fish_seen_subcommand_from show" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand persona; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand persona; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand persona; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the personas ([personas.NAME] in the config, and `default`)'
complete -c aios -n "__fish_aios_using_subcommand persona; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print a persona\'s effective scopes'
complete -c aios -n "__fish_aios_using_subcommand persona; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand trust; and not __fish_seen_subcommand_from promote demote help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand trust; and not __fish_seen_subcommand_from promote demote help" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand trust; and not __fish_seen_subcommand_from promote demote help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand trust; and not __fish_seen_subcommand_from promote demote help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand trust; and not __fish_seen_subcommand_from promote demote help" -f -a "promote" -d 'Let a step\'s proposals be decided by policy from now on (journaled)'
complete -c aios -n "__fish_aios_using_subcommand trust; and not __fish_seen_subcommand_from promote demote help" -f -a "demote" -d 'Send a step back to asking (journaled)'
complete -c aios -n "__fish_aios_using_subcommand trust; and not __fish_seen_subcommand_from promote demote help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand trust; and __fish_seen_subcommand_from promote" -l reason -d 'Why (kept in the journal)' -r
complete -c aios -n "__fish_aios_using_subcommand trust; and __fish_seen_subcommand_from promote" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand trust; and __fish_seen_subcommand_from promote" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand trust; and __fish_seen_subcommand_from promote" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand trust; and __fish_seen_subcommand_from demote" -l reason -d 'Why (kept in the journal)' -r
complete -c aios -n "__fish_aios_using_subcommand trust; and __fish_seen_subcommand_from demote" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand trust; and __fish_seen_subcommand_from demote" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand trust; and __fish_seen_subcommand_from demote" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "promote" -d 'Let a step\'s proposals be decided by policy from now on (journaled)'
complete -c aios -n "__fish_aios_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "demote" -d 'Send a step back to asking (journaled)'
complete -c aios -n "__fish_aios_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand notify; and not __fish_seen_subcommand_from test list help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand notify; and not __fish_seen_subcommand_from test list help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand notify; and not __fish_seen_subcommand_from test list help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand notify; and not __fish_seen_subcommand_from test list help" -f -a "test" -d 'Send a test message now through one channel of [notify], or all of them'
complete -c aios -n "__fish_aios_using_subcommand notify; and not __fish_seen_subcommand_from test list help" -f -a "list" -d 'List the channels of [notify] and the latest notifications with their status'
complete -c aios -n "__fish_aios_using_subcommand notify; and not __fish_seen_subcommand_from test list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand notify; and __fish_seen_subcommand_from test" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand notify; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand notify; and __fish_seen_subcommand_from test" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand notify; and __fish_seen_subcommand_from list" -l limit -d 'How many notifications to show' -r
complete -c aios -n "__fish_aios_using_subcommand notify; and __fish_seen_subcommand_from list" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand notify; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand notify; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand notify; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "test" -d 'Send a test message now through one channel of [notify], or all of them'
complete -c aios -n "__fish_aios_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the channels of [notify] and the latest notifications with their status'
complete -c aios -n "__fish_aios_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand status" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand status" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand status" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand status" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand breakers; and not __fish_seen_subcommand_from close help" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand breakers; and not __fish_seen_subcommand_from close help" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand breakers; and not __fish_seen_subcommand_from close help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand breakers; and not __fish_seen_subcommand_from close help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand breakers; and not __fish_seen_subcommand_from close help" -f -a "close" -d 'Close a target\'s open breaker by hand (the held steps go at the next tick)'
complete -c aios -n "__fish_aios_using_subcommand breakers; and not __fish_seen_subcommand_from close help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand breakers; and __fish_seen_subcommand_from close" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand breakers; and __fish_seen_subcommand_from close" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand breakers; and __fish_seen_subcommand_from close" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand breakers; and __fish_seen_subcommand_from help" -f -a "close" -d 'Close a target\'s open breaker by hand (the held steps go at the next tick)'
complete -c aios -n "__fish_aios_using_subcommand breakers; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand backup" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand backup" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand backup" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand restore" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand restore" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand restore" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand migrate" -l to -d 'The PostgreSQL database to copy into: postgres://USER[:PASSWORD]@HOST[:PORT]/DB' -r
complete -c aios -n "__fish_aios_using_subcommand migrate" -l progress-every -d 'Report progress on stderr every this many events' -r
complete -c aios -n "__fish_aios_using_subcommand migrate" -l home -d 'Keep config and data in DIR instead of the default locations (without the flag: the AIOS_HOME environment variable, when set)' -r -F
complete -c aios -n "__fish_aios_using_subcommand migrate" -l force -d 'Copy into a database that is not empty, replacing the aios journal there (other tables are left alone)'
complete -c aios -n "__fish_aios_using_subcommand migrate" -l allow-active -d 'Copy runs that are still running or leased, as they stand'
complete -c aios -n "__fish_aios_using_subcommand migrate" -l json -d 'Print the report as JSON'
complete -c aios -n "__fish_aios_using_subcommand migrate" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand migrate" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "init" -d 'Set up: the data directory, a commented config.toml, the tick timer'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "new" -d 'Write a new workflow file from a library workflow or a minimal skeleton'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "doctor" -d 'Check config, providers, tool servers, mail logins, secrets, ticking and the database'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "run" -d 'Start a run of a workflow file'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "check" -d 'Validate workflow files without running them'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "plan" -d 'Show what a run of a workflow would do, without running it: order, approvals, secrets, cost'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "inbox" -d 'Review what waits for your decision: a full-screen TUI on a terminal, else the list'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "approve" -d 'Approve an inbox item, commit its action and continue the run'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "reject" -d 'Reject an inbox item and continue the run'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "runs" -d 'List runs'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "show" -d 'Show a run: steps, status, outputs and timeline'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "log" -d 'Print a run\'s events in order'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "resume" -d 'Continue a waiting, failed or interrupted run (on a corrected file with --workflow)'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "cancel" -d 'Cancel a run'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "undo" -d 'Propose the undo of a run\'s committed steps, latest first (their `undo`)'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "replay" -d 'Rebuild a run\'s state from its events and compare it with the stored state'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "llm" -d 'Try prompts, list and check models, and inspect every LLM call'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "config" -d 'Print, show (secrets hidden) or edit config.toml'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "fact" -d 'Set and read versioned facts (entity, key -> value)'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "memory" -d 'Add, search, forget and import memory notes'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "outcome" -d 'Attach measured results to a run, or list them'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "budget" -d 'Show LLM spending today, this month and per workflow against the caps'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "stats" -d 'Show the last 30 days: LLM spend per day against the caps, items decided and the median time to decide, failures per workflow, outcomes over time'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "completions" -d 'Print a shell completion script'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "schema" -d 'Print the JSON Schema of workflow files or of config.toml (for editors)'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "schedule" -d 'Register, list, pause, resume and remove scheduled workflows'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "tick" -d 'Fire the schedules that are due and continue runs that can go on'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "daemon" -d 'Tick in a resident loop until interrupted (SIGINT/SIGTERM)'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "worker" -d 'Claim queued runs (`aios run --detach`, tagged steps) and drive them, until interrupted'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "workers" -d 'List live workers with the runs they hold, and the runs queued for workers'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "hook" -d 'Register, list and remove inbound webhooks (for `aios serve`)'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "serve" -d 'Start workflows from signed HTTP requests (POST /hooks/NAME)'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "mcp" -d 'List MCP tool servers and their tools, or call a tool'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "secret" -d 'Keep secrets for templates (`secret("NAME")`): set, list, remove'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "persona" -d 'List personas and show their scopes (what a workflow may touch)'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "trust" -d 'Show how often each step\'s proposals were approved unchanged; promote or demote steps'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "notify" -d 'Test the channels of [notify] and list what was sent to the operator'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "status" -d 'One screen of health: ticking, pending items, schedules, breakers, spend, backups'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "breakers" -d 'List the connector targets\' circuit breakers, or close one by hand'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "backup" -d 'Copy the database while it is in use (a consistent online backup)'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "restore" -d 'Replace the database with a checked backup (the replaced one is kept aside)'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "migrate" -d 'Copy this journal into a PostgreSQL database, rebuild its state there and compare'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from init new doctor run check plan inbox approve reject runs show log resume cancel undo replay llm config fact memory outcome budget stats completions schema schedule tick daemon worker workers hook serve mcp secret persona trust notify status breakers backup restore migrate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from inbox" -f -a "list" -d 'List pending items (the default)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from inbox" -f -a "show" -d 'Show one item in full: the exact action, its evidence, its run and step'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from inbox" -f -a "unsnooze" -d 'Show a snoozed item in the inbox again now'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from llm" -f -a "log" -d 'Show LLM calls, newest first: one line each, or prompts and replies with --full'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from llm" -f -a "prompt" -d 'Send a prompt through a model alias and print the reply (journaled like any call)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from llm" -f -a "models" -d 'List the model aliases and the models each provider reports'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from llm" -f -a "ping" -d 'Check that each provider answers, accepts its key and serves its aliases\' models'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "path" -d 'Print the path of config.toml (whether or not it exists)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'Print the configuration with its secrets hidden (`secret("NAME")` stays a name)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "edit" -d 'Open config.toml in $VISUAL or $EDITOR, then check that it still reads'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from fact" -f -a "set" -d 'Set a fact; the previous value stays in its history'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from fact" -f -a "get" -d 'Print an entity\'s current facts, or one fact\'s value'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from fact" -f -a "history" -d 'Print every version of a fact, oldest first'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from fact" -f -a "list" -d 'List the current facts of every entity, or of one'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from fact" -f -a "unset" -d 'Unset a fact; its history keeps every version and the unset'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from memory" -f -a "add" -d 'Add a note'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from memory" -f -a "search" -d 'Search notes, decisions and outcomes'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from memory" -f -a "forget" -d 'Remove a note from memory and every index'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from memory" -f -a "import" -d 'Add notes from a JSON Lines file in one transaction'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from memory" -f -a "list" -d 'List notes, oldest first'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "add" -d 'Register a workflow\'s [trigger], cron or imap (stores its path and a snapshot)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "list" -d 'List schedules: next fire, last fire, last result, health'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "pause" -d 'Stop firing a schedule until it is resumed'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "resume" -d 'Fire a paused schedule again (instants that passed while paused are not run)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "remove" -d 'Remove a schedule (its runs and fire history stay in the journal)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "install" -d 'Print a crontab line and a systemd user timer that run `aios tick` every minute'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "add" -d 'Register a hook that starts a workflow (prints its secret once)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "list" -d 'List hooks'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "remove" -d 'Remove a hook and its secret'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from mcp" -f -a "list" -d 'List the configured tool servers with their status and tool count (starts each one)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from mcp" -f -a "tools" -d 'List a server\'s tools: name, description, input schema, annotations'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from mcp" -f -a "call" -d 'Call a tool once: at once when it is read-only, otherwise as a proposal in the inbox'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from secret" -f -a "set" -d 'Set a secret: typed on the terminal (not shown), or piped on stdin'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from secret" -f -a "list" -d 'List secrets: names, where each is kept and when it was set (never values)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from secret" -f -a "rm" -d 'Remove a secret from the store'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from persona" -f -a "list" -d 'List the personas ([personas.NAME] in the config, and `default`)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from persona" -f -a "show" -d 'Print a persona\'s effective scopes'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "promote" -d 'Let a step\'s proposals be decided by policy from now on (journaled)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "demote" -d 'Send a step back to asking (journaled)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "test" -d 'Send a test message now through one channel of [notify], or all of them'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "list" -d 'List the channels of [notify] and the latest notifications with their status'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from breakers" -f -a "close" -d 'Close a target\'s open breaker by hand (the held steps go at the next tick)'

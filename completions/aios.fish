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

complete -c aios -n "__fish_aios_needs_command" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_needs_command" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_needs_command" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_needs_command" -f -a "run" -d 'Start a run of a workflow file'
complete -c aios -n "__fish_aios_needs_command" -f -a "check" -d 'Validate workflow files without running them'
complete -c aios -n "__fish_aios_needs_command" -f -a "inbox" -d 'Review what waits for your decision: a full-screen TUI on a terminal, else the list'
complete -c aios -n "__fish_aios_needs_command" -f -a "approve" -d 'Approve an inbox item, commit its action and continue the run'
complete -c aios -n "__fish_aios_needs_command" -f -a "reject" -d 'Reject an inbox item and continue the run'
complete -c aios -n "__fish_aios_needs_command" -f -a "runs" -d 'List runs'
complete -c aios -n "__fish_aios_needs_command" -f -a "show" -d 'Show a run: steps, status, outputs and timeline'
complete -c aios -n "__fish_aios_needs_command" -f -a "log" -d 'Print a run\'s events in order'
complete -c aios -n "__fish_aios_needs_command" -f -a "resume" -d 'Continue a waiting, failed or interrupted run'
complete -c aios -n "__fish_aios_needs_command" -f -a "cancel" -d 'Cancel a run'
complete -c aios -n "__fish_aios_needs_command" -f -a "replay" -d 'Rebuild a run\'s state from its events and compare it with the stored state'
complete -c aios -n "__fish_aios_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c aios -n "__fish_aios_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand run" -s i -l input -d 'Set an input: NAME=VALUE (repeatable)' -r
complete -c aios -n "__fish_aios_using_subcommand run" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand run" -l json -d 'Print the run as JSON when the command ends'
complete -c aios -n "__fish_aios_using_subcommand run" -s q -l quiet -d 'Do not print progress'
complete -c aios -n "__fish_aios_using_subcommand run" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand run" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand check" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand check" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand check" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show help" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show help" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show help" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show help" -f -a "list" -d 'List pending items (the default)'
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show help" -f -a "show" -d 'Show one item in full: the exact action, its evidence, its run and step'
complete -c aios -n "__fish_aios_using_subcommand inbox; and not __fish_seen_subcommand_from list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from list" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from list" -l all -d 'Include decided and cancelled items'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from show" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from show" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from show" -l action -d 'Print only the action, as JSON ready to edit for `aios approve --edit`'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from help" -f -a "list" -d 'List pending items (the default)'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one item in full: the exact action, its evidence, its run and step'
complete -c aios -n "__fish_aios_using_subcommand inbox; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand approve" -l edit -d 'Commit this edited action instead (a JSON or TOML file; see `aios inbox show ID --action`)' -r -F
complete -c aios -n "__fish_aios_using_subcommand approve" -l field -d 'Fill in a field of an approval gate: NAME=VALUE (repeatable)' -r
complete -c aios -n "__fish_aios_using_subcommand approve" -l reason -d 'A note kept with the decision' -r
complete -c aios -n "__fish_aios_using_subcommand approve" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand approve" -l done -d 'For an interrupted step: it did happen; mark it done instead of running it again'
complete -c aios -n "__fish_aios_using_subcommand approve" -l no-resume -d 'Commit the decision but do not continue the run'
complete -c aios -n "__fish_aios_using_subcommand approve" -l confirm-stale -d 'Approve a STALE item (its evidence changed since it was proposed)'
complete -c aios -n "__fish_aios_using_subcommand approve" -l json -d 'Print the run as JSON when the command ends'
complete -c aios -n "__fish_aios_using_subcommand approve" -s q -l quiet -d 'Do not print progress'
complete -c aios -n "__fish_aios_using_subcommand approve" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand approve" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand reject" -l reason -d 'Why (kept with the decision and shown to the run)' -r
complete -c aios -n "__fish_aios_using_subcommand reject" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
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
complete -c aios -n "__fish_aios_using_subcommand runs" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand runs" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand runs" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand runs" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand show" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand show" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand show" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand show" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand log" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand log" -l json -d 'Print JSON'
complete -c aios -n "__fish_aios_using_subcommand log" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand log" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand resume" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand resume" -l json -d 'Print the run as JSON when the command ends'
complete -c aios -n "__fish_aios_using_subcommand resume" -s q -l quiet -d 'Do not print progress'
complete -c aios -n "__fish_aios_using_subcommand resume" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand resume" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand cancel" -l reason -d 'Why (kept in the journal)' -r
complete -c aios -n "__fish_aios_using_subcommand cancel" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand cancel" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand cancel" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand replay" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand replay" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand replay" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand completions" -l home -d 'Keep config and data in DIR instead of the default locations' -r -F
complete -c aios -n "__fish_aios_using_subcommand completions" -s h -l help -d 'Print help'
complete -c aios -n "__fish_aios_using_subcommand completions" -s V -l version -d 'Print version'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "run" -d 'Start a run of a workflow file'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "check" -d 'Validate workflow files without running them'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "inbox" -d 'Review what waits for your decision: a full-screen TUI on a terminal, else the list'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "approve" -d 'Approve an inbox item, commit its action and continue the run'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "reject" -d 'Reject an inbox item and continue the run'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "runs" -d 'List runs'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "show" -d 'Show a run: steps, status, outputs and timeline'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "log" -d 'Print a run\'s events in order'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "resume" -d 'Continue a waiting, failed or interrupted run'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "cancel" -d 'Cancel a run'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "replay" -d 'Rebuild a run\'s state from its events and compare it with the stored state'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c aios -n "__fish_aios_using_subcommand help; and not __fish_seen_subcommand_from run check inbox approve reject runs show log resume cancel replay completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from inbox" -f -a "list" -d 'List pending items (the default)'
complete -c aios -n "__fish_aios_using_subcommand help; and __fish_seen_subcommand_from inbox" -f -a "show" -d 'Show one item in full: the exact action, its evidence, its run and step'

# CodeFusion for fish: @KEY_NAME@ turns the command line into a prompt for `cf`; the candidate you
# accept replaces the command line, for you to review and run. Nothing runs on its own.
# Install: cf shell-init fish | source  in ~/.config/fish/config.fish
function __codefusion_cf
    @CF@ $argv
end
function __codefusion_widget
    set -l query (commandline | string collect)
    if string match -qr '\S' -- "$query"
        # stdout is the candidate (cancel prints nothing, so `string collect` fails and `and` skips)
        set -l code (__codefusion_cf ask -- "$query" </dev/tty 2>/dev/tty | string collect)
        and commandline -r -- $code
    end
    commandline -f repaint
end
bind @FISH_KEY@ __codefusion_widget
bind -M insert @FISH_KEY@ __codefusion_widget

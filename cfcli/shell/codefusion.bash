# CodeFusion for bash: @KEY_NAME@ turns the command line into a prompt for `cf`; the candidate you
# accept replaces the command line, for you to review and run. Nothing runs on its own.
# Install: eval "$(cf shell-init bash)"  in ~/.bashrc
__codefusion_cf() { @CF@ "$@"; }
__codefusion_widget() {
  local query=$READLINE_LINE code
  [[ -n ${query//[[:space:]]/} ]] || return 0
  # stdout is the candidate; the TUI draws on the terminal through stderr
  code=$(__codefusion_cf ask -- "$query" </dev/tty 2>/dev/tty) || return 0
  READLINE_LINE=$code
  READLINE_POINT=${#READLINE_LINE}
}
bind -x '"@BASH_KEY@": __codefusion_widget'

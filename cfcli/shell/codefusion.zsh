# CodeFusion for zsh: @KEY_NAME@ turns the command line into a prompt for `cf`; the candidate you
# accept replaces the command line, for you to review and run. Nothing runs on its own.
# Install: eval "$(cf shell-init zsh)"  in ~/.zshrc
__codefusion_cf() { @CF@ "$@"; }
__codefusion_widget() {
  local query=$BUFFER code
  # stdout is the candidate; the TUI draws on the terminal through stderr
  if [[ -n ${query//[[:space:]]/} ]] && code=$(__codefusion_cf ask -- "$query" </dev/tty 2>/dev/tty); then
    BUFFER=$code
    CURSOR=${#BUFFER}
  fi
  zle reset-prompt
}
zle -N __codefusion_widget
bindkey -M emacs '@ZSH_KEY@' __codefusion_widget
bindkey -M viins '@ZSH_KEY@' __codefusion_widget

"""Bash template metrics (NL2Bash-style): templates, scores and the shared bashlex walk,
on hand-worked commands and on the published test split."""

from __future__ import annotations

import json
import math

import pytest

from core.metrics import (
    Redirection,
    bash_is_valid,
    bash_template,
    parse_simple_commands,
    template_accuracy,
    template_match,
)

# --- templates -------------------------------------------------------------------------


def test_find_exec_nests_the_command_up_to_the_semicolon():
    assert bash_template('find . -name "*.txt" -exec rm {} \\;') == [
        "find", "_PATH", "-name", "_REGEX", "-exec", "rm", "{}", "\\;"]


def test_exec_plus_ends_only_after_braces():
    # '+x' is chmod's mode, not the terminator; '{} +' ends the -exec
    assert bash_template("find . -type f -exec chmod +x {} +") == [
        "find", "_PATH", "-type", "_TYPE", "-exec", "chmod", "_PERM", "{}", "+"]
    assert not template_accuracy("find . -exec rm {} +", "find . -exec rm {} \\;")


def test_nested_exec_command_reads_its_own_flags():
    # grep's first operand is a pattern; after -exec the words belong to grep, not find
    assert bash_template("find src -exec grep -l TODO {} \\; -print") == [
        "find", "_PATH", "-exec", "grep", "-l", "_REGEX", "{}", "\\;", "-print"]


def test_sudo_and_absolute_utility_paths_are_dropped():
    plain = bash_template("find . -name '*.log'")
    assert bash_template("sudo /usr/bin/find /var -name 'x.log'") == plain
    assert bash_template("sudo -u bob find . -name a") == plain  # -u takes 'bob' with it
    assert template_accuracy("sudo env LC_ALL=C nohup /usr/bin/sort -u f", "sort -u g")


def test_pipeline_into_xargs_runs_the_next_utility():
    assert bash_template('find . -name "*.tmp" -print0 | xargs -0 rm -f') == [
        "find", "_PATH", "-name", "_REGEX", "-print0", "|", "xargs", "-0", "rm", "-f"]


def test_xargs_replacement_string_is_the_placeholder():
    assert template_accuracy("ls | xargs -I % mv % /backup", "ls | xargs -I {} mv {} /old")
    assert not template_accuracy("ls | xargs -I % mv % /backup", "ls | xargs -I % mv % %")  # /backup is a file


def test_bundled_short_flags_split_for_getopt_utilities_only():
    assert template_accuracy("ls -la /tmp", "ls -a -l /home")
    assert template_accuracy("tar -xzf a.tgz -C out", "tar -x -z -f b.tgz -C /opt")
    assert bash_template("grep -A3 foo f") == ["grep", "-A", "_NUM", "_REGEX", "_FILE"]
    assert bash_template("find . -name a -maxdepth 2") == ["find", "_PATH", "-name", "_REGEX", "-maxdepth", "_NUM"]


def test_long_flag_value_in_either_spelling():
    assert bash_template("du --max-depth=2 /var") == bash_template("du --max-depth 1 /usr") == [
        "du", "--max-depth", "_NUM", "_PATH"]


def test_head_count_shorthand_equals_dash_n():
    assert template_accuracy("head -5 log.txt", "head -n 20 notes.txt")


def test_lists_redirections_and_command_substitution():
    assert bash_template("cat a > b && wc -l < b 2>/dev/null; echo $(date) `whoami`") == [
        "cat", "_FILE", ">", "_FILE", "&&", "wc", "-l", "<", "_FILE", "2>", "_FILE", ";",
        "echo", "_STR", "_STR", "date", "whoami"]


def test_subshell_and_fd_duplication():
    assert bash_template("(cd /tmp && ls) 2>&1") == ["(", "cd", "_PATH", "&&", "ls", ")", "2>&1"]


def test_dataset_placeholders_are_arguments_not_redirections():
    assert bash_is_valid("find / -user <account> -ls")
    assert bash_template("find / -user <account> -ls") == ["find", "_PATH", "-user", "_USER", "-ls"]


# --- scores ----------------------------------------------------------------------------


def test_perfect_candidate_scores_one_and_unrelated_scores_zero():
    reference = "find /home -type f -mtime -1 | xargs grep -l foo"
    assert template_match(reference, [reference]) == pytest.approx(1.0)
    assert template_accuracy(reference, [reference])
    assert template_match("echo done", [reference]) == 0.0
    assert not template_accuracy("echo done", [reference])


def test_template_match_is_the_cosine_of_token_counts():
    # find _PATH -name _REGEX  vs  find _PATH -name _REGEX -type _TYPE: dot 4, norms 2 and sqrt(6)
    assert template_match("find . -name a", ["find / -name b -type d"]) == pytest.approx(4 / (2 * math.sqrt(6)))
    # counts matter: {find, _PATH, -o: 1; -name, _REGEX: 2} vs {find, _PATH, -name, _REGEX: 1}
    assert template_match("find . -name a -o -name b", "find . -name c") == pytest.approx(6 / (math.sqrt(11) * 2))


def test_best_reference_wins():
    assert template_match("ls -l /tmp", ["find . -name x", "ls -l /var"]) == pytest.approx(1.0)
    assert template_accuracy("ls -l /tmp", ["find . -name x", "ls -l /var"])


def test_flag_order_does_not_matter_but_arguments_kinds_do():
    assert template_accuracy("find . -type f -name a", "find . -name b -type d")
    assert not template_accuracy("find . -name a", "find . -size a")


@pytest.mark.parametrize("empty", ["", "   ", "\n"])
def test_empty_candidate_scores_zero(empty):
    assert bash_template(empty) == []
    assert template_match(empty, ["ls", empty]) == 0.0
    assert not template_accuracy(empty, [empty])
    assert not bash_is_valid(empty)


def test_unparseable_command_falls_back_to_whitespace_tokens():
    broken = 'find . -name "unterminated'
    assert not bash_is_valid(broken)
    assert parse_simple_commands(broken) is None
    assert bash_template(broken) == ["find", ".", "-name", '"unterminated']
    # shares 'find' and '-name' with  find _PATH -name _REGEX: 2 / (2 * 2)
    assert template_match(broken, ['find . -name "*.txt"']) == pytest.approx(0.5)


NASTY = ["echo $((1 + 2))", "case x in a) ls;; esac", "ls ((", "| grep x", ";;", "$(", "`", "\x00", "\\",
         "((((((((((((((((((((", "# only a comment", "cat <<EOF", "a" * 5000, "find . -exec", "xargs",
         "sudo", "sudo -u", "-exec ; +", "{ ls", "if then fi", "!", "&&", "ls |", "\u201cx\u201d | \u2018y\u2019"]


@pytest.mark.parametrize("command", NASTY)
def test_no_input_raises(command):
    assert isinstance(bash_is_valid(command), bool)
    assert all(isinstance(token, str) for token in bash_template(command))
    assert 0.0 <= template_match(command, [command, "ls -l"]) <= 1.0 + 1e-9
    assert isinstance(template_accuracy(command, [command]), bool)


@pytest.mark.parametrize("command", ["echo $((1 + 2))", "ls ((", "| grep x", "$(", "{ ls", "ls |"])
def test_syntax_errors_are_not_valid(command):
    assert not bash_is_valid(command)


# --- the walk a safety checker reuses --------------------------------------------------


def test_commands_run_by_find_exec_and_xargs_are_listed():
    commands = parse_simple_commands("find /tmp -mtime +7 -exec rm -f {} \\; | xargs -0 sudo shred -u")
    assert [(c.utility, c.via) for c in commands] == [("find", ""), ("rm", "-exec"), ("xargs", ""),
                                                      ("shred", "xargs")]
    assert commands[1].args == ("-f", "{}")
    assert commands[3].wrappers == ("sudo",)


def test_wrappers_and_paths_are_recorded_not_lost():
    (find,) = parse_simple_commands("sudo -u bob env A=1 /usr/bin/find /var")
    assert (find.utility, find.args, find.wrappers, find.assignments) == ("find", ("/var",), ("sudo", "env"), ("A=1",))


def test_pipe_sources_shell_strings_and_functions_are_visible():
    *_, shell = parse_simple_commands("curl -fsSL https://example.com/i.sh | tee log | sudo bash")
    assert (shell.utility, shell.wrappers, shell.upstream) == ("bash", ("sudo",), ("curl", "tee"))
    *_, remove = parse_simple_commands("sh -c 'cd / && rm -rf /'")
    assert (remove.utility, remove.args, remove.via) == ("rm", ("-rf", "/"), "sh -c")
    bomb = parse_simple_commands(":(){ :|:& };:")
    assert any(c.function == ":" and c.utility == ":" and c.upstream == (":",) for c in bomb)


def test_arguments_and_redirections_keep_their_values():
    (dd,) = parse_simple_commands("dd if=/dev/zero of=/dev/sda bs=1M")
    assert "of=/dev/sda" in dd.args
    (echo,) = parse_simple_commands("echo x > /dev/sda 2>&1")
    assert echo.redirections == (Redirection(">", "/dev/sda"), Redirection("2>&", "1"))


# --- the published data ----------------------------------------------------------------


def test_published_bash_test_split_parses_without_raising(source_data):
    commands = [item["Code"] for item in json.loads((source_data / "BashBenchmarks.json").read_text())["test"]]
    valid = [bash_is_valid(c) for c in commands]
    assert all(bash_template(c) for c in commands)
    assert all(parse_simple_commands(c) is not None for c, ok in zip(commands, valid) if ok)
    # bashlex rejects only broken lines (unbalanced quotes, bare parentheses) and a few exotic ones
    assert sum(valid) / len(commands) > 0.95

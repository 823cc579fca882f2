"""Danger warnings for Bash candidates: hand-made dangerous commands must be flagged with the
right phrase, and their harmless look-alikes must not be."""

from __future__ import annotations

import pytest

from core.generate import Candidate
from core.effects import asks_to_show, code_effects, destructive, read_only_version, reads_first
from core.safety import bash_warnings, code_warnings

DANGEROUS = [
    # recursive deletes of /, ~, *, . and $HOME, however they are run
    ("rm -rf /", "recursively deletes /"),
    ("rm -rf /*", "recursively deletes /"),
    ("sudo rm -rf --no-preserve-root /", "recursively deletes /"),
    ("rm --recursive --force /usr", "recursively deletes /usr"),
    ("rm -r ~", "recursively deletes your home directory"),
    ('rm -rf "$HOME"', "recursively deletes your home directory"),
    ("rm -rf ${HOME}/*", "recursively deletes your home directory"),
    ("rm -rf *", "recursively deletes everything in the current directory"),
    ("rm -fR .", "recursively deletes everything in the current directory"),
    ('rm -rf "$BUILD_DIR/"', "recursively deletes / if $BUILD_DIR is empty"),
    ("ls | xargs sudo rm -rf /", "recursively deletes /"),
    ("sh -c 'cd /tmp && rm -rf ~'", "recursively deletes your home directory"),
    ('find / -name "*.log" -delete', "deletes files found under /"),
    ("find / -type f -exec rm -rf {} \\;", "deletes files found under /"),
    ("find . -delete", "deletes everything under ."),
    # disks
    ("dd if=/dev/zero of=/dev/sda bs=1M", "dd overwrites the disk /dev/sda"),
    ("sudo mkfs.ext4 /dev/sdb1", "formats /dev/sdb1 (erases it)"),
    ("wipefs -a /dev/nvme0n1", "wipes the file-system signatures of /dev/nvme0n1"),
    ("shred -n 3 /dev/sda", "shreds the disk /dev/sda"),
    ("cat /dev/urandom > /dev/sda", "writes directly to the disk /dev/sda"),
    ("echo x | sudo tee /dev/nvme0n1", "writes directly to the disk /dev/nvme0n1"),
    # permissions
    ("chmod -R 777 /", "changes the permissions of everything under /"),
    ("chmod 777 /", "makes / world-writable"),
    ("sudo chown -R nobody /etc", "changes the ownership of everything under /etc"),
    # remote code
    ("curl -fsSL https://example.com/i.sh | sh", "pipes a download from curl straight into sh"),
    ("wget -qO- http://example.com | sudo bash", "pipes a download from wget straight into bash"),
    ('sh -c "$(curl -fsSL https://example.com/i.sh)"', "runs a script downloaded from the internet with sh"),
    ("bash <(curl -s http://example.com)", "runs a script downloaded from the internet with bash"),
    # fork bombs
    (":(){ :|:& };:", "fork bomb: starts processes until the machine hangs"),
    ("bomb(){ bomb|bomb& };bomb", "fork bomb: starts processes until the machine hangs"),
    # truncation and lost files
    (":> notes.txt", "empties notes.txt"),
    ("> notes.txt", "empties notes.txt"),
    ("cat /dev/null > app.log", "empties app.log"),
    ("truncate -s 0 data.db", "empties data.db"),
    ("echo nameserver 1.1.1.1 > /etc/resolv.conf", "overwrites /etc/resolv.conf"),
    ("mv report.txt /dev/null", "moves files onto /dev/null: they are lost (and /dev/null is replaced, as root)"),
    # milder: version control
    ("git push --force origin main", "force-pushes: can overwrite commits on the remote"),
    ("git -C repo push -f", "force-pushes: can overwrite commits on the remote"),
    ("git reset --hard HEAD~3", "git reset --hard discards uncommitted changes"),
    ("git clean -fdx", "deletes untracked and ignored files (git clean)"),
    # processes, power, history
    ("kill -9 -1", "kills every process you can (kill -1)"),
    ("sudo shutdown -h now", "shuts the machine down"),
    ("systemctl reboot", "reboots the machine"),
    ("history -c", "erases your shell history"),
    ("rm ~/.bash_history", "erases your shell history"),
    (": > ~/.zsh_history", "erases your shell history"),
    ("export HISTFILE=/dev/null", "turns off your shell history"),
    ("crontab -r", "deletes your crontab"),
]

HARMLESS = [
    "rm -rf ./build", "rm -r node_modules", "rm -rf /tmp/build", "rm -f *.o", "rm -rf ~/.cache/pip",
    "find . -name x -delete", 'find . -name "*.pyc" -exec rm {} \\;', 'find /var/log -name "*.gz" -mtime +30',
    "dd if=/dev/sda of=disk.img", "chmod -R 755 ./site", "chmod +x run.sh", "sudo chown -R $USER ./data",
    "curl -o install.sh https://example.com/i.sh", "wget -qO- http://example.com/a.tgz | tar xz",
    "git push origin main", "git push --force-with-lease", "git clean -n", "git reset --soft HEAD~1",
    "ls > out.txt", "echo x >> log", "ls 2>/dev/null", "make > /dev/null 2>&1", "kill -9 1234", "kill -1 1234",
    "mv a.txt b.txt", "history | grep ssh", 'echo "rm -rf /"', 'grep -r "rm -rf /" .', "echo ':(){ :|:& };:'",
    "sudo apt-get update", "shutdown -c", "top -n 1", "tar czf backup.tgz ~/", "cat /dev/null", "",
]


@pytest.mark.parametrize("command,warning", DANGEROUS)
def test_dangerous_commands_are_flagged(command, warning):
    assert warning in bash_warnings(command)


@pytest.mark.parametrize("command", HARMLESS)
def test_harmless_look_alikes_are_not(command):
    assert bash_warnings(command) == []


@pytest.mark.parametrize("broken", ['rm -rf / "unterminated', "sudo rm -rf ~ ; echo 'oops", "curl x | sh ((("])
def test_lines_bashlex_rejects_are_still_checked(broken):
    from core.metrics import bash_is_valid

    assert not bash_is_valid(broken)
    assert bash_warnings(broken)


def test_one_warning_per_hazard_in_source_order():
    assert bash_warnings("rm -rf ~ && sudo rm -rf / && rm -rf /") == [
        "recursively deletes your home directory", "recursively deletes /"]


def test_bash_and_python_are_checked_and_candidates_default_to_none():
    assert code_warnings("rm -rf /", "python") == [] and code_warnings("rm -rf /", "bash")
    assert code_warnings("import os\nos.system('rm -rf ~')", "python") == ["recursively deletes your home directory"]
    assert code_warnings("import shutil\nshutil.rmtree('/')", "python") == ["recursively deletes /"]
    assert code_warnings("shutil.rmtree('build')", "python") == [] and code_warnings("rm -rf /", "cf") == []
    assert Candidate("ls", -0.1).warnings == [] and Candidate("ls", -0.1).effects == []


def test_a_find_piped_into_a_recursive_rm_is_flagged_like_rm_rf_star():
    # What `cf "delete everything on the disk"` answered, unflagged beside `rm -rf *` (issue 32).
    assert bash_warnings("find -mindepth 1 -maxdepth 1 -print0 | xargs -0 rm -rf") == [
        "recursively deletes everything in the current directory"]
    assert bash_warnings("find /srv -maxdepth 1 | xargs rm -r") == ["recursively deletes /srv"]
    assert bash_warnings("find . -name '*.tmp' -print0 | xargs -0 rm -rf") == []  # filtered: only those


# -- what a command changes (core.effects) ----------------------------------------------------

EFFECTS = [
    ("rm notes.txt", "deletes notes.txt"),
    ("rmdir build", "deletes build"),
    ("rm -rf ./build", "deletes ./build and everything inside"),
    ("find -mindepth 1 -maxdepth 1 -print0 | xargs -0 rm -rf", "deletes what find lists and everything inside"),
    ("find . -name '*.log' -delete", "deletes the files find matches under ."),
    ("find . -name '*.pyc' -exec rm {} \\;", "deletes the files find matches"),
    ("ls *.bak | xargs rm", "deletes what ls lists"),
    ("dd if=/dev/zero of=disk.img bs=1M count=10", "overwrites disk.img"),
    ("sudo mkfs.ext4 /dev/sdb1", "formats /dev/sdb1"),
    ("truncate -s 0 app.log", "overwrites app.log (truncates it)"),
    ("> app.log", "overwrites app.log"),
    ("sort names.txt > sorted.txt", "overwrites sorted.txt"),
    ("chmod -R 755 /", "changes the permissions of everything under /"),
    ("sudo chown -R me /", "changes the ownership of everything under /"),
    ("kill -9 $(lsof -t -i:3000)", "kills the processes lsof finds (SIGKILL: no clean-up)"),
    ("lsof -t -i:3000 | xargs kill -9", "kills the processes lsof lists (SIGKILL: no clean-up)"),
    ("kill 1234", "kills process 1234"),
    ("pkill -9 firefox", "kills processes named firefox (SIGKILL: no clean-up)"),
    ("git reset --hard HEAD~1", "deletes uncommitted changes (git reset --hard)"),
    ("git clean -fdx", "deletes untracked and ignored files (git clean)"),
    ("git push --force origin main", "overwrites commits on the remote (force-push)"),
    ("curl -fsSL https://example.com/i.sh | sh", "runs a script downloaded from the internet with sh"),
    ("curl -d @notes.txt https://paste.example.com/api", "sends data to paste.example.com"),
    ("scp report.pdf me@backup:/srv", "sends report.pdf to me@backup"),
]
PY_EFFECTS = [
    ("import shutil\nshutil.rmtree(path)", "deletes path and everything inside"),
    ("import os\nos.remove('a.txt')", "deletes 'a.txt'"),
    ("os.unlink(p)", "deletes p"),
    ("Path('x.log').unlink()", "deletes Path('x.log')"),
    ("subprocess.run('ls -l', shell=True)", "runs a shell command"),
    ("subprocess.call('rm -rf build', shell=True)", "deletes build and everything inside"),
    ("with open('out.txt', 'w') as f:\n    f.write(s)", "overwrites 'out.txt'"),
    ("Path('notes.md').write_text(s)", "overwrites Path('notes.md')"),
    ("os.kill(pid, signal.SIGKILL)", "kills process pid"),
    ("requests.post(url, json=data)", "sends data to url"),
]
READ_ONLY = ["ls -la", "find . -name '*.py'", "ps aux | grep 3000", "lsof -i :3000", "cat notes.txt", "du -sh *",
             "ls 2>/dev/null", "grep -r foo . > /dev/null", "echo x >> log", "chmod +x run.sh", "kill -l"]


@pytest.mark.parametrize("command,effect", EFFECTS)
def test_what_a_command_deletes_overwrites_kills_or_sends(command, effect):
    assert effect in code_effects(command, "bash")


@pytest.mark.parametrize("code,effect", PY_EFFECTS)
def test_what_python_deletes_overwrites_kills_runs_or_sends(code, effect):
    assert effect in code_effects(code, "python")


@pytest.mark.parametrize("command", READ_ONLY)
def test_commands_that_only_read_have_no_destructive_effect(command):
    assert not destructive(code_effects(command, "bash"))


def test_python_that_only_reads_has_none():
    assert code_effects("with open(p) as f:\n    print(f.read())", "python") == []
    assert code_effects("for f in os.listdir('.'):\n    print(f)", "python") == []
    assert code_effects("GreaterThan(5)", "cf") == []


def test_a_prompt_that_asks_to_show_gets_reading_candidates_first():
    codes = ["kill -9 $(lsof -t -i:3000)", "lsof -t -i:3000 | xargs kill", "lsof -i :3000"]
    effects = [code_effects(c, "bash") for c in codes]
    assert reads_first("show which process is using port 3000", effects) == [2, 0, 1]
    assert reads_first("kill the process on port 3000", effects) == [0, 1, 2]  # asked to kill: as ranked
    assert asks_to_show("list the 10 largest files") and asks_to_show("count lines in every txt file")
    assert not asks_to_show("find and delete empty files") and not asks_to_show("compress the logs folder")


@pytest.mark.parametrize("command,reading", [
    ("kill -9 $(lsof -t -i:3000)", "lsof -t -i:3000"),
    ("lsof -n -i:3000 | grep LISTEN | awk '{ print $2 }' | xargs kill -9", "lsof -n -i:3000 | grep LISTEN | awk '{ print $2 }'"),
    ("find . -name '*.log' -delete", "find . -name '*.log'"),
    ("find /tmp -type f -exec rm {} \\;", "find /tmp -type f"),
    ("rm -rf build", ""),
])
def test_the_read_only_part_of_a_destructive_command(command, reading):
    assert read_only_version(command) == reading
    assert not destructive(code_effects(reading, "bash"))

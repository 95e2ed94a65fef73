"""Small code snippets written for this project: what the synthetic codemods rewrite."""

from __future__ import annotations

PYTHON: tuple[str, ...] = (
    """import json


def load_settings(path):
    with open(path) as handle:
        data = json.load(handle)
    print("loaded", len(data), "keys")
    return data
""",
    """import requests


def fetch_user(session, user_id):
    response = session.get(f"/users/{user_id}")
    response.raise_for_status()
    print("fetched", user_id)
    return response.json()
""",
    """import os


def list_python_files(root):
    found = []
    for name in os.listdir(root):
        if name.endswith(".py"):
            found.append(os.path.join(root, name))
    return sorted(found)
""",
    """class Counter:
    def __init__(self):
        self.total = 0

    def add(self, amount):
        self.total = self.total + amount
        return self.total


def tally(values):
    counter = Counter()
    for value in values:
        counter.add(value)
    return counter.total
""",
    """import time


def retry(action, attempts):
    for attempt in range(attempts):
        try:
            return action()
        except OSError as error:
            print("attempt", attempt, "failed:", error)
            time.sleep(0.1)
    raise RuntimeError("gave up")
""",
    """import subprocess


def git_head(repo):
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True)
    return done.stdout.decode().strip()
""",
    """import hashlib


def digest(chunks):
    h = hashlib.md5()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()
""",
    """import logging

log = logging.getLogger(__name__)


def parse_port(text):
    value = int(text)
    if value <= 0:
        log.warn("port must be positive: %s", text)
        return None
    return value
""",
    """def average(numbers):
    if len(numbers) == 0:
        return 0.0
    return sum(numbers) / len(numbers)


def spread(numbers):
    return max(numbers) - min(numbers)
""",
    """import csv


def read_rows(path):
    rows = []
    with open(path, newline="") as handle:
        for row in csv.reader(handle):
            rows.append(row)
    print("rows:", len(rows))
    return rows
""",
    """from collections import OrderedDict


def first_seen(items):
    seen = OrderedDict()
    for item in items:
        seen.setdefault(item.key, item)
    return list(seen.values())
""",
    """import threading


def start_worker(target, name):
    worker = threading.Thread(target=target, name=name)
    worker.setDaemon(True)
    worker.start()
    return worker
""",
)

JAVASCRIPT: tuple[str, ...] = (
    """function loadConfig(path) {
  const text = fs.readFileSync(path, "utf8");
  console.log("loaded", path);
  return JSON.parse(text);
}
""",
    """async function fetchUser(id) {
  const response = await fetch(`/users/${id}`);
  console.log("status", response.status);
  return response.json();
}
""",
    """function total(items) {
  var sum = 0;
  items.forEach(function (item) {
    sum = sum + item.price;
  });
  return sum;
}
""",
)

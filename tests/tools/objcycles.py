#!/usr/bin/env python3
"""
objcycles: the library's object files must use each other without a cycle.

    objcycles.py [--nm NM] [--allow FROM->TO ...] LIBRARY.a

Reads the archive's symbols with nm. An object uses another when it leaves a
symbol undefined that the other defines; a group of objects that reach each
other through such uses (a strongly connected component of more than one
object) is a cycle: none of them can be understood, tested or replaced
without the others. Each cycle is printed with its objects and, for every use
between two of them, the symbols that make it.

--allow FROM->TO (archive member names, e.g. stream.c.o->heartbeat.c.o) takes
that one use out of the graph before looking for cycles: a named, temporary
exception. An allowed use that the archive no longer has is mentioned, so that
the exception can go.

Exit status: 0 without a cycle, 1 with one, 2 when the archive cannot be read.
"""

import argparse
import subprocess
import sys

# nm -P type letters. Upper case is a global symbol; U (and weak w/v without a
# definition) is one this object needs. Lower case defined letters are local:
# no other object can use them.
UNDEFINED = set('Uwv')
DEFINED = set('ABCDGIRSTVWu')


def fatal(text):
    print('objcycles: ' + text, file=sys.stderr)
    sys.exit(2)


def read_symbols(nm, archive):
    """member -> (defined names, undefined names), in archive order."""
    try:
        out = subprocess.run([nm, '-A', '-P', archive], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        fatal('%s -A -P %s: %s' % (nm, archive, (getattr(e, 'stderr', None) or str(e)).strip()))
    members = {}
    for line in out.splitlines():
        # "lib.a[member.o]: name TYPE [value size]"
        where, sep, rest = line.partition(']: ')
        if not sep or '[' not in where:
            continue
        member = where[where.rindex('[') + 1:]
        fields = rest.split()
        if len(fields) < 2:
            continue
        name, kind = fields[0], fields[1]
        defs, undefs = members.setdefault(member, (set(), set()))
        if kind in UNDEFINED:
            undefs.add(name)
        elif kind in DEFINED:
            defs.add(name)
    return members


def uses(members):
    """(from, to) -> sorted symbols that from takes from to."""
    definers = {}
    for member, (defs, _) in members.items():
        for name in defs:
            definers.setdefault(name, []).append(member)
    edges = {}
    for member, (_, undefs) in members.items():
        for name in undefs:
            for other in definers.get(name, ()):
                if other != member:
                    edges.setdefault((member, other), set()).add(name)
    return {e: sorted(s) for e, s in edges.items()}


def components(nodes, edges):
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    succ = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
    for n in succ:
        succ[n].sort()
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(succ[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    comp.append(n)
                    if n == node:
                        break
                result.append(sorted(comp))
    return result


def parse_allow(text):
    a, sep, b = text.partition('->')
    if not sep or not a or not b:
        raise argparse.ArgumentTypeError('expected FROM->TO, got %r' % text)
    return (a.strip(), b.strip())


def main():
    ap = argparse.ArgumentParser(description='Report cycles between the object files of a static library.')
    ap.add_argument('--nm', default='nm', help='the nm program (default: nm)')
    ap.add_argument('--allow', type=parse_allow, action='append', default=[], metavar='FROM->TO',
                    help='a use between two objects to leave out (repeatable)')
    ap.add_argument('archive')
    args = ap.parse_args()

    members = read_symbols(args.nm, args.archive)
    if not members:
        fatal('no object files in %s' % args.archive)
    edges = uses(members)

    allowed = set(args.allow)
    for a, b in sorted(allowed):
        if (a, b) not in edges:
            print('note: allowed use %s -> %s is not in %s any more: remove it from the allow-list'
                  % (a, b, args.archive))
        else:
            print('allowed: %s -> %s (%s)' % (a, b, ', '.join(edges[(a, b)])))
    graph = {e: s for e, s in edges.items() if e not in allowed}

    cycles = [c for c in components(members.keys(), graph.keys()) if len(c) > 1]
    for i, comp in enumerate(cycles, 1):
        inside = set(comp)
        print('cycle %d: %s' % (i, ' '.join(comp)))
        for (a, b), syms in sorted(graph.items()):
            if a in inside and b in inside:
                print('  %s -> %s: %s' % (a, b, ', '.join(syms)))
    print('%d object files, %d uses between them, %d cycle(s)' % (len(members), len(edges), len(cycles)))
    return 1 if cycles else 0


if __name__ == '__main__':
    sys.exit(main())

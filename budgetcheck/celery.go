package budgetcheck

import (
	"fmt"
	"strings"
)

// celeryWorkers reads a Celery worker's concurrency from its command line:
// "celery -A app worker --concurrency=8" (or -c 8) runs 8 children, each
// with its own engine or Django connection, so 8 pools per container
// (celery docs, userguide/workers.html "Concurrency"; threads, gevent and
// eventlet pools give each thread or greenlet its own connection under
// Django too). Without the flag Celery starts one child per CPU of the node:
// unknown, never 1. --pool=solo is one. ok is false when the container
// does not run a Celery worker.
func celeryWorkers(container string, args []string) (n Number, ok bool) {
	worker := false
	for i, a := range args {
		base := a[strings.LastIndexByte(a, '/')+1:]
		if base == "celery" {
			for _, b := range args[i+1:] {
				worker = worker || b == "worker"
			}
		}
		// "sh -c 'celery -A app worker -c 4'": look inside the script too.
		if strings.Contains(a, "celery") && strings.Contains(a, " worker") && strings.Contains(a, " ") {
			if n, ok := celeryWorkers(container, strings.Fields(a)); ok {
				return n, true
			}
		}
	}
	if !worker {
		return Number{}, false
	}
	for i, a := range args {
		flag, val, hasVal := strings.Cut(a, "=")
		if !hasVal && i+1 < len(args) {
			val = args[i+1]
		}
		switch flag {
		case "--pool", "-P":
			if val == "solo" {
				return known(1, "container %s runs celery worker --pool=solo", container), true
			}
		case "--concurrency", "-c":
			if c, ok := readCount(val, 1); ok {
				return known(c, "container %s args celery worker %s %d", container, flag, c), true
			}
			return unknown("container %s args celery worker %s %q is not a count", container, flag, val), true
		}
	}
	return unknown("%s", fmt.Sprintf("container %s runs a celery worker without --concurrency: one child per CPU of the node; state it with --concurrency or annotation %s", container, AnnotationProcesses)), true
}

"""Python's process pools doing the bench's trivial task, for isolated-bench pool.

Prints one line of JSON: the median round trip of one task at a time through
concurrent.futures.ProcessPoolExecutor(2), and the tasks per second of
ProcessPoolExecutor.map and multiprocessing.Pool.map over many tasks.
"""
import concurrent.futures
import json
import multiprocessing
import statistics
import sys
import time


def square(x):
    return x * x


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    round_trips = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    result = {}
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        pool.submit(square, 1).result()  # start the workers
        samples = []
        for i in range(round_trips):
            start = time.perf_counter()
            assert pool.submit(square, i).result() == i * i
            samples.append((time.perf_counter() - start) * 1e6)
        result["executor_round_trip_us"] = statistics.median(samples)
        start = time.perf_counter()
        # chunksize 1 (the default): one task per dispatch, like a LoadBalancer task
        assert sum(pool.map(square, range(tasks))) == sum(i * i for i in range(tasks))
        result["executor_map_per_s"] = tasks / (time.perf_counter() - start)
    with multiprocessing.Pool(2) as pool:
        pool.map(square, range(10))
        start = time.perf_counter()
        assert sum(pool.map(square, range(tasks))) == sum(i * i for i in range(tasks))
        result["pool_map_per_s"] = tasks / (time.perf_counter() - start)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

/* compute: a pure compute loop (few syscalls).
 *   compute [N]   (N defaults to 1000000)
 * Runs N rounds of an integer mixing function and counts the primes below
 * 10000 with a sieve; prints both.  Exit 0. */
#include <stdio.h>
#include <stdlib.h>

static unsigned char sieve[10000];

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
    unsigned x = 12345, sum = 0;

    for (unsigned long i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;  /* LCG */
        unsigned y = x ^ (x >> 15);
        y *= 0x2c1b3c6du;
        y ^= y >> 12;
        sum = (sum << 5 | sum >> 27) ^ y;
    }

    int primes = 0;
    for (int i = 2; i < 10000; i++) {
        if (sieve[i])
            continue;
        primes++;
        for (int j = i * i; j < 10000; j += i)
            sieve[j] = 1;
    }

    printf("compute: n=%lu checksum=0x%08x primes<10000=%d\n", n, sum, primes);
    return primes == 1229 ? 0 : 1;
}

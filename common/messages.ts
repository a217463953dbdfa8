/** Sentences shown both by the CLI and the extension. */

/** What registering a test buffer does to a target, said before it is done. */
export function registerWarning(prefix: string): string {
  return `Registering a test buffer adds external memory to "${prefix}"'s shared config. Until it is unregistered, every process of that target that walks memsegs (dpdk-proc-info -m, telemetry's memseg endpoints, drivers mapping DMA) must first call rte_extmem_attach on it or it will crash; the primary itself never touches it unless your code does. Memscope unregisters it when its holder ends, SIGKILL included (a guardian process does it).`;
}

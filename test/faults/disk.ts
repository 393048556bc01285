// A member's data directory on a small tmpfs, so that a fault can fill its disk for real.
import { execFile } from "node:child_process";
import { rmSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export class DiskFiller {
  private readonly ballast: string;
  private mounted = false;

  constructor(
    readonly member: string,
    readonly dir: string,
    readonly sizeMiB: number,
  ) {
    this.ballast = join(dir, "ballast");
  }

  async mount(): Promise<void> {
    try {
      await run("mount", ["-t", "tmpfs", "-o", `size=${this.sizeMiB}m`, "tmpfs", this.dir]);
    } catch (error) {
      const why = ((error as { stderr?: string }).stderr ?? (error as Error).message).trim();
      throw new Error(
        `the disk-full nemesis mounts a tmpfs and could not (${why}): run as root, or leave disk-full out`,
        { cause: error },
      );
    }
    this.mounted = true;
  }

  /** Takes every free byte, so the member's next write fails with ENOSPC. */
  async fill(): Promise<void> {
    const { bavail, bsize } = statfsSync(this.dir);
    await run("fallocate", ["-l", String(bavail * bsize), this.ballast]).catch(async () => {
      // fallocate refuses sizes it cannot reserve exactly; fill with zeros until ENOSPC instead.
      await run("dd", ["if=/dev/zero", `of=${this.ballast}`, "bs=1M"]).catch(() => {});
    });
  }

  async free(): Promise<void> {
    rmSync(this.ballast, { force: true });
  }

  async unmount(): Promise<void> {
    if (!this.mounted) return;
    await this.free();
    await run("umount", ["-l", this.dir]).catch(() => {});
    this.mounted = false;
  }
}

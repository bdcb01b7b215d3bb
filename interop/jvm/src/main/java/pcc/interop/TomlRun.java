package pcc.interop;

import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.flywaydb.core.Flyway;
import org.flywaydb.core.internal.configuration.ConfigUtils;
import org.flywaydb.core.utilities.configuration.BuildToolTomlConfiguration;
import tools.jackson.databind.node.ObjectNode;

/**
 * Real Flyway reading a {@code flyway.toml}, as a team's pipeline step would run it:
 *
 * <pre>
 * FLYWAY_PASSWORD=... java -cp ... pcc.interop.TomlRun migrate flyway.toml [more.toml ...]
 * </pre>
 *
 * The files are read by {@code BuildToolTomlConfiguration} (flyway-core-utilities), the loader of
 * Flyway's own Maven and Gradle plugins, with the working directory as the base of relative
 * locations and {@code FLYWAY_*} environment variables applied on top, as those plugins do. It
 * prints one JSON document (the command's result, or the error) and exits 0 on success, 1 on
 * failure.
 */
public final class TomlRun {
  private TomlRun() {}

  public static void main(String[] args) {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    System.setOut(System.err);
    if (args.length < 2) {
      System.err.println("usage: TomlRun <migrate|info|validate|repair|baseline|config> <flyway.toml>...");
      System.exit(2);
    }
    ObjectNode reply = Harness.JSON.createObjectNode();
    int code = 0;
    try {
      List<File> files = new ArrayList<>();
      for (int i = 1; i < args.length; i++) {
        files.add(new File(args[i]));
      }
      File workingDirectory = new File(System.getProperty("user.dir"));
      Map<String, String> fromEnvironment = ConfigUtils.environmentVariablesToPropertyMap();
      var configuration = BuildToolTomlConfiguration.load(
          files, workingDirectory, TomlRun.class.getClassLoader(), Map.of(), fromEnvironment);
      reply.put("ok", true);
      reply.set("result", FlywayOps.run(args[0], new Flyway(configuration)));
    } catch (Throwable e) {
      reply.put("ok", false);
      reply.set("error", FlywayOps.describe(e));
      code = 1;
    }
    out.println(Harness.JSON.writeValueAsString(reply));
    System.exit(code);
  }
}

package pcc.interop;

import java.util.LinkedHashMap;
import java.util.Map;

import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.ErrorDetails;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationInfoService;
import org.flywaydb.core.api.configuration.Configuration;
import org.flywaydb.core.api.output.BaselineResult;
import org.flywaydb.core.api.output.MigrateResult;
import org.flywaydb.core.api.output.RepairOutput;
import org.flywaydb.core.api.output.RepairResult;
import org.flywaydb.core.api.output.ValidateOutput;
import org.flywaydb.core.api.output.ValidateResult;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Runs one Flyway command through Flyway's public API and reports what Flyway returned, as JSON.
 * The configuration is Flyway's own property map ({@code flyway.url}, {@code flyway.locations},
 * {@code flyway.placeholders.x}, ...), applied with {@code FluentConfiguration.configuration(Map)}.
 */
final class FlywayOps {
  private FlywayOps() {}

  static JsonNode run(String action, JsonNode config) {
    Map<String, String> properties = new LinkedHashMap<>();
    config.properties().forEach(e -> properties.put(e.getKey(), e.getValue().asString()));
    Flyway flyway = Flyway.configure().configuration(properties).load();
    return run(action, flyway);
  }

  /** Runs {@code action} on a configured Flyway. */
  static JsonNode run(String action, Flyway flyway) {
    return switch (action) {
      case "migrate" -> migrate(flyway.migrate());
      case "info" -> info(flyway.info());
      case "validate" -> validate(flyway.validateWithResult());
      case "repair" -> repair(flyway.repair());
      case "baseline" -> baseline(flyway.baseline());
      case "config" -> config(flyway.getConfiguration());
      default -> throw new IllegalArgumentException("unknown Flyway action " + action);
    };
  }

  static JsonNode versions() {
    ObjectNode out = Harness.JSON.createObjectNode();
    out.put("flyway", mavenVersion(Flyway.class, "org.flywaydb/flyway-core"));
    out.put("pgjdbc", org.postgresql.util.DriverInfo.DRIVER_VERSION);
    out.put("java", System.getProperty("java.version"));
    return out;
  }

  /** The version in a jar's Maven metadata (flyway-core's manifest carries none). */
  private static String mavenVersion(Class<?> inJar, String groupAndArtifact) {
    String resource = "/META-INF/maven/" + groupAndArtifact + "/pom.properties";
    try (var in = inJar.getResourceAsStream(resource)) {
      var p = new java.util.Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version");
    } catch (java.io.IOException e) {
      return null;
    }
  }

  private static JsonNode migrate(MigrateResult r) {
    ObjectNode out = Harness.JSON.createObjectNode();
    out.put("success", r.success);
    out.put("migrationsExecuted", r.migrationsExecuted);
    out.put("initialSchemaVersion", r.initialSchemaVersion);
    out.put("targetSchemaVersion", r.targetSchemaVersion);
    out.put("schemaName", r.schemaName);
    ArrayNode applied = out.putArray("migrations");
    r.migrations.forEach(m -> {
      ObjectNode o = applied.addObject();
      o.put("version", m.version);
      o.put("description", m.description);
      o.put("type", m.type);
      o.put("filepath", m.filepath);
    });
    ArrayNode warnings = out.putArray("warnings");
    if (r.warnings != null) {
      r.warnings.forEach(warnings::add);
    }
    return out;
  }

  private static JsonNode info(MigrationInfoService service) {
    ObjectNode out = Harness.JSON.createObjectNode();
    MigrationInfo current = service.current();
    out.put("current", current == null || current.getVersion() == null ? null : current.getVersion().toString());
    ArrayNode all = out.putArray("migrations");
    for (MigrationInfo m : service.all()) {
      ObjectNode o = all.addObject();
      o.put("rank", m.getInstalledRank());
      o.put("version", m.getVersion() == null ? null : m.getVersion().toString());
      o.put("description", m.getDescription());
      o.put("type", m.getType().name());
      o.put("script", m.getScript());
      o.put("checksum", m.getChecksum());
      o.put("state", m.getState().getDisplayName());
      o.put("installedBy", m.getInstalledBy());
    }
    return out;
  }

  private static JsonNode validate(ValidateResult r) {
    ObjectNode out = Harness.JSON.createObjectNode();
    out.put("valid", r.validationSuccessful);
    out.put("validateCount", r.validateCount);
    if (r.errorDetails != null) {
      out.set("error", details(r.errorDetails));
    }
    ArrayNode invalid = out.putArray("invalidMigrations");
    for (ValidateOutput v : r.invalidMigrations) {
      ObjectNode o = invalid.addObject();
      o.put("version", v.version);
      o.put("description", v.description);
      o.put("filepath", v.filepath);
      o.set("error", details(v.errorDetails));
    }
    return out;
  }

  private static JsonNode repair(RepairResult r) {
    ObjectNode out = Harness.JSON.createObjectNode();
    ArrayNode actions = out.putArray("repairActions");
    r.repairActions.forEach(actions::add);
    out.set("removed", repairOutputs(r.migrationsRemoved));
    out.set("deleted", repairOutputs(r.migrationsDeleted));
    out.set("aligned", repairOutputs(r.migrationsAligned));
    return out;
  }

  private static ArrayNode repairOutputs(java.util.List<RepairOutput> list) {
    ArrayNode out = Harness.JSON.createArrayNode();
    list.forEach(m -> {
      ObjectNode o = out.addObject();
      o.put("version", m.version);
      o.put("description", m.description);
      o.put("filepath", m.filepath);
    });
    return out;
  }

  private static JsonNode baseline(BaselineResult r) {
    ObjectNode out = Harness.JSON.createObjectNode();
    out.put("successfullyBaselined", r.successfullyBaselined);
    out.put("baselineVersion", r.baselineVersion);
    return out;
  }

  /** The settings Flyway resolved (for the flyway.toml test), passwords excluded. */
  private static JsonNode config(Configuration c) {
    ObjectNode out = Harness.JSON.createObjectNode();
    out.put("url", c.getUrl());
    out.put("user", c.getUser());
    out.put("passwordSet", c.getPassword() != null && !c.getPassword().isEmpty());
    ArrayNode schemas = out.putArray("schemas");
    for (String s : c.getSchemas()) {
      schemas.add(s);
    }
    out.put("defaultSchema", c.getDefaultSchema());
    out.put("table", c.getTable());
    out.put("initSql", c.getInitSql());
    ArrayNode locations = out.putArray("locations");
    for (var l : c.getLocations()) {
      locations.add(l.getDescriptor());
    }
    ObjectNode placeholders = out.putObject("placeholders");
    c.getPlaceholders().forEach(placeholders::put);
    return out;
  }

  private static JsonNode details(ErrorDetails d) {
    ObjectNode o = Harness.JSON.createObjectNode();
    if (d != null) {
      o.put("code", d.errorCode == null ? null : d.errorCode.toString());
      o.put("message", d.errorMessage);
    }
    return o;
  }

  /** An exception as JSON: its class, Flyway's error code and the whole message chain. */
  static JsonNode describe(Throwable e) {
    ObjectNode o = Harness.JSON.createObjectNode();
    o.put("class", e.getClass().getName());
    if (e instanceof FlywayException f && f.getErrorCode() != null) {
      o.put("code", f.getErrorCode().toString());
    }
    StringBuilder message = new StringBuilder(String.valueOf(e.getMessage()));
    for (Throwable cause = e.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
      message.append("\ncaused by ").append(cause.getClass().getName()).append(": ").append(cause.getMessage());
    }
    o.put("message", message.toString());
    return o;
  }
}

package pcc.interop;

import java.lang.reflect.Method;
import java.util.Properties;
import java.util.TreeMap;

import org.postgresql.Driver;
import org.postgresql.PGProperty;
import org.postgresql.hostchooser.HostRequirement;
import org.postgresql.jdbc.GSSEncMode;
import org.postgresql.jdbc.SslMode;
import org.postgresql.util.HostSpec;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * pgjdbc as the referee for JDBC URLs: {@code Driver.parseURL} splits the URL exactly as the
 * driver does when it connects, and the driver's own accessors read each setting the way the
 * connection code reads it ({@code SslMode.of}, {@code HostRequirement.getTargetServerType},
 * {@code PGProperty.getInt/getBoolean}, the driver's private {@code hostSpecs}). A setting the
 * driver would refuse when connecting is reported as {@code {"error": ...}}.
 */
final class JdbcUrls {
  private JdbcUrls() {}

  static JsonNode parse(String url) throws Exception {
    ObjectNode out = Harness.JSON.createObjectNode();
    Properties props = Driver.parseURL(url, new Properties());
    out.put("accepted", props != null);
    if (props == null) {
      return out;
    }
    ObjectNode raw = out.putObject("properties");
    new TreeMap<>(propertiesMap(props)).forEach(raw::put);
    ArrayNode unknown = out.putArray("unknown");
    for (String key : props.stringPropertyNames()) {
      if (PGProperty.forName(key) == null) {
        unknown.add(key);
      }
    }
    out.set("hosts", attempt(() -> hosts(props)));
    ObjectNode v = out.putObject("interpreted");
    v.set("sslMode", attempt(() -> text(SslMode.of(props).value)));
    v.set("gssEncMode", attempt(() -> text(GSSEncMode.of(props).value)));
    v.set("targetServerType", attempt(() -> text(
        HostRequirement.getTargetServerType(PGProperty.TARGET_SERVER_TYPE.getOrDefault(props)).name())));
    v.set("channelBinding", attempt(() -> text(enumValue("org.postgresql.core.v3.ChannelBinding", props))));
    v.set("sslNegotiation", attempt(() -> text(
        org.postgresql.jdbc.SslNegotiation.of(PGProperty.SSL_NEGOTIATION.getOrDefault(props)).value())));
    v.set("loadBalanceHosts", attempt(() -> bool(PGProperty.LOAD_BALANCE_HOSTS.getBoolean(props))));
    v.set("tcpKeepAlive", attempt(() -> bool(PGProperty.TCP_KEEP_ALIVE.getBoolean(props))));
    v.set("readOnly", attempt(() -> bool(PGProperty.READ_ONLY.getBoolean(props))));
    v.set("ssl", attempt(() -> bool(PGProperty.SSL.getBoolean(props))));
    v.set("connectTimeout", attempt(() -> number(connectTimeout(props))));
    v.set("hostRecheckSeconds", attempt(() -> number(PGProperty.HOST_RECHECK_SECONDS.getInt(props))));
    for (PGProperty p : new PGProperty[] {
        PGProperty.USER, PGProperty.PASSWORD, PGProperty.PG_DBNAME, PGProperty.APPLICATION_NAME,
        PGProperty.CURRENT_SCHEMA, PGProperty.OPTIONS, PGProperty.SSL_ROOT_CERT, PGProperty.SSL_CERT,
        PGProperty.SSL_KEY, PGProperty.SSL_FACTORY}) {
      v.put(p.getName(), p.getOrDefault(props));
    }
    return out;
  }

  private static java.util.Map<String, String> propertiesMap(Properties props) {
    java.util.Map<String, String> map = new java.util.HashMap<>();
    for (String key : props.stringPropertyNames()) {
      map.put(key, props.getProperty(key));
    }
    return map;
  }

  /**
   * Connects with the driver itself and reports which server it chose (its port) and what that
   * server is: how the referee judges {@code targetServerType}.
   */
  static JsonNode connect(String url, String user, String password) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", user);
    props.setProperty("password", password);
    try (java.sql.Connection c = java.sql.DriverManager.getConnection(url, props);
        java.sql.Statement s = c.createStatement();
        java.sql.ResultSet r = s.executeQuery(
            "SELECT inet_server_port(), pg_is_in_recovery(), current_setting('transaction_read_only')")) {
      r.next();
      ObjectNode out = Harness.JSON.createObjectNode();
      out.put("port", r.getInt(1));
      out.put("inRecovery", r.getBoolean(2));
      out.put("readOnly", "on".equals(r.getString(3)));
      return out;
    }
  }

  /**
   * {@code connectTimeout} as the driver uses it: {@code PGStream} passes {@code connectTimeout * 1000}
   * to {@code Socket.connect}, which throws for a negative timeout, so the connection fails.
   */
  private static int connectTimeout(Properties props) throws Exception {
    int seconds = PGProperty.CONNECT_TIMEOUT.getInt(props);
    if (seconds < 0) {
      // The JDK's own check (it runs before any connection attempt): throws for a negative timeout.
      try (java.net.Socket socket = new java.net.Socket()) {
        socket.connect(new java.net.InetSocketAddress(0), seconds * 1000);
      }
    }
    return seconds;
  }

  /** {@code <enum>.of(props)} of a driver enum that is not public, by reflection. */
  private static String enumValue(String className, Properties props) throws Exception {
    Method of = Class.forName(className).getDeclaredMethod("of", Properties.class);
    of.setAccessible(true);
    return String.valueOf(of.invoke(null, props)).toLowerCase(java.util.Locale.ROOT);
  }

  /** The driver's own host list ({@code Driver.hostSpecs}, private, read by reflection). */
  private static JsonNode hosts(Properties props) throws Exception {
    Method m = Driver.class.getDeclaredMethod("hostSpecs", Properties.class);
    m.setAccessible(true);
    ArrayNode list = Harness.JSON.createArrayNode();
    for (HostSpec h : (HostSpec[]) m.invoke(null, props)) {
      ObjectNode o = list.addObject();
      o.put("host", h.getHost());
      o.put("port", h.getPort());
    }
    return list;
  }

  private interface Reading {
    JsonNode read() throws Exception;
  }

  private static JsonNode attempt(Reading reading) {
    try {
      return reading.read();
    } catch (Exception e) {
      Throwable cause = e instanceof java.lang.reflect.InvocationTargetException i ? i.getCause() : e;
      ObjectNode o = Harness.JSON.createObjectNode();
      o.put("error", cause.getClass().getSimpleName() + ": " + cause.getMessage());
      return o;
    }
  }

  private static JsonNode text(String s) {
    return Harness.JSON.getNodeFactory().stringNode(s);
  }

  private static JsonNode bool(boolean b) {
    return Harness.JSON.getNodeFactory().booleanNode(b);
  }

  private static JsonNode number(int n) {
    return Harness.JSON.getNodeFactory().numberNode(n);
  }
}
